/**
 * A real browser through nginx in front of three replicas: Debian's chromium driven by playwright-core
 * (`npx playwright install` cannot download here). Registers through the page, sees several replicas answer,
 * stays signed in through a rolling restart, signs in with OIDC, and saves results/browser.png (and -sign-in.png).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { freePort } from '../infra/ports.js';
import { startOidcMock } from '../infra/oidc-mock.js';
import { startTestCluster } from './helpers/cluster.js';
import { PASSWORD, uniqueName } from './helpers/http-client.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];
const screenshot = fileURLToPath(new URL('../results/browser.png', import.meta.url));
const RELOADS = 9;

// Without chromium this test cannot prove anything: in CI (which installs it) that is a failure, on a
// developer's machine a skip that says how to get it.
const missing = existsSync(CHROMIUM) ? undefined : `Debian's chromium is missing at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`;

/** Loads (or reloads) the page and waits until it shows the signed-in view; returns the replica named on it. */
async function signedInView(page: Page, reload = true): Promise<{ user: string; instance: string }> {
  if (reload) await page.reload();
  await page.locator('#signed-in').waitFor({ state: 'visible', timeout: 10_000 });
  return { user: (await page.textContent('#user'))!, instance: (await page.textContent('#instance'))! };
}

test('When a browser uses the site through nginx, then it stays signed in across replicas and a rolling restart, and OIDC sign-in works', { skip: missing && !process.env.CI ? missing : false, timeout: 120_000 }, async (t: TestContext) => {
  if (missing) assert.fail(missing);
  const oidc = await startOidcMock();
  t.after(() => oidc.stop());
  const port = await freePort();
  const cluster = await startTestCluster({
    replicas: 3,
    port,
    env: { LOG_LEVEL: 'warn', PASSWORD_SCRYPT_COST: '1024', ...oidc.env(`http://127.0.0.1:${port}/api/oidc/callback`) },
  });
  t.after(() => cluster.stop());
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
  t.after(() => browser.close());

  const page = await (await browser.newContext()).newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(cluster.url);
  await page.locator('#signed-out').waitFor({ state: 'visible' });
  const username = uniqueName('browser');
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[data-action=register]');
  assert.equal((await signedInView(page, false)).user, username);
  await page.fill('input[name=item]', 'survives a rolling restart');
  await page.click('#cart-form button');
  await page.locator('#cart li').first().waitFor();

  const before = new Set<string>();
  for (let i = 0; i < RELOADS; i++) {
    const view = await signedInView(page);
    assert.equal(view.user, username);
    before.add(view.instance);
  }
  assert.ok(before.size > 1, `${RELOADS} reloads were all served by ${[...before].join(', ')}`);

  await cluster.rollingRestart();

  const after = new Set<string>();
  for (let i = 0; i < RELOADS; i++) {
    const view = await signedInView(page);
    assert.equal(view.user, username, 'still signed in after every replica was replaced');
    after.add(view.instance);
  }
  for (const instance of after) assert.ok(!before.has(instance), `${instance} is a new process`);
  assert.deepEqual(await page.locator('#cart li').allTextContents(), ['survives a rolling restart']);
  mkdirSync(join(screenshot, '..'), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });

  // Sign-in with the provider in a fresh browser profile: through nginx, so start and callback may hit different replicas.
  const oidcName = uniqueName('sso');
  oidc.signInAs({ sub: uniqueName('sub'), preferred_username: oidcName });
  const sso = await (await browser.newContext()).newPage();
  sso.on('pageerror', (err) => errors.push(err.message));
  await sso.goto(cluster.url);
  await sso.locator('#oidc').waitFor({ state: 'visible' });
  await sso.screenshot({ path: screenshot.replace('.png', '-sign-in.png') });
  await sso.click('text=Sign in with OIDC');
  await sso.waitForURL(`${cluster.url}/`);
  assert.equal((await signedInView(sso, false)).user, oidcName);
  assert.deepEqual(errors, [], 'no script errors on the page');
});
