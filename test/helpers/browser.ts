/**
 * Debian's chromium driven by playwright-core (`npx playwright install` cannot download here), for the browser tests.
 * Without chromium a browser test cannot prove anything: in CI (which installs it) that is a failure, on a developer's
 * machine a skip that says how to get it.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { freePort } from '../../infra/ports.js';
import { startTestCluster } from './cluster.js';
import { PASSWORD } from './http-client.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

const missing = existsSync(CHROMIUM)
  ? undefined
  : `Debian's chromium is missing at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`;

/** The `skip` option of a browser test. */
export const skipWithoutChromium = missing && !process.env.CI ? missing : false;

/** Chromium, closed in t.after; fails the test when it is missing (the skip above covers a developer's machine). */
export async function launchChromium(t: TestContext): Promise<Browser> {
  if (missing) assert.fail(missing);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
  t.after(() => browser.close());
  return browser;
}

/**
 * Loads (or reloads) the page and waits until it shows the signed-in view; returns the replica named on it. Before a
 * reload, 0 to 2 other requests (chosen at random) go through nginx, as other users' would: when a page load makes a
 * multiple of as many requests as there are replicas, round robin would otherwise give /api/me the same one every time.
 */
export async function signedInView(page: Page, reload = true): Promise<{ user: string; instance: string }> {
  for (let n = reload ? Math.floor(Math.random() * 3) : 0; n > 0; n--)
    await page.request.get(new URL('/api/auth-options', page.url()).href);
  if (reload) await page.reload();
  await page.locator('#signed-in').waitFor({ state: 'visible', timeout: 10_000 });
  return { user: (await page.textContent('#user'))!, instance: (await page.textContent('#instance'))! };
}

/** Three replicas behind nginx for a browser; `env` gets the site's origin (a provider's callbacks go there). Stopped in t.after. */
export async function startBrowserCluster(t: TestContext, env: (origin: string) => NodeJS.ProcessEnv) {
  const port = await freePort();
  const cluster = await startTestCluster({
    replicas: 3,
    port,
    env: { LOG_LEVEL: 'warn', PASSWORD_SCRYPT_COST: '1024', ...env(`http://127.0.0.1:${port}`) },
  });
  t.after(() => cluster.stop());
  return cluster;
}

/** A page in a fresh profile whose script errors are pushed to `errors`. */
export async function newPage(browser: Browser, errors: string[]): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  page.on('pageerror', (err) => errors.push(err.message));
  return page;
}

/** Opens the site signed out, registers `username` through the form and waits for the signed-in view. */
export async function registerOnPage(page: Page, siteUrl: string, username: string): Promise<void> {
  await page.goto(siteUrl);
  await page.locator('#signed-out').waitFor({ state: 'visible' });
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[data-action=register]');
  assert.equal((await signedInView(page, false)).user, username);
}
