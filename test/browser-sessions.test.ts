/**
 * "Where you are signed in" in a real browser through nginx in front of three replicas: the page lists the user's
 * sessions from three browsers (devices), ends one, logs out the other devices, then ends itself. Saves
 * results/browser-sessions.png.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { freePort } from '../infra/ports.js';
import { startTestCluster } from './helpers/cluster.js';
import { PASSWORD, uniqueName } from './helpers/http-client.js';
import { launchChromium, signedInView, skipWithoutChromium } from './helpers/browser.js';

const screenshot = fileURLToPath(new URL('../results/browser-sessions.png', import.meta.url));
const FIREFOX_ON_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const SAFARI_ON_IOS =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1';

/** A browser of its own (cookie jar, user agent) on the page, signed in through the form. */
async function device(browser: Browser, url: string, username: string, action: 'register' | 'login', userAgent?: string): Promise<Page> {
  const page = await (await browser.newContext(userAgent ? { userAgent } : {})).newPage();
  await page.goto(url);
  await page.locator('#signed-out').waitFor({ state: 'visible' });
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', PASSWORD);
  await page.click(`button[data-action=${action}]`);
  await signedInView(page, false);
  return page;
}

const listed = (page: Page) => page.locator('#sessions li');

async function assertSignedOut(page: Page): Promise<void> {
  await page.reload();
  await page.locator('#signed-out').waitFor({ state: 'visible', timeout: 10_000 });
}

test(
  'When a user signed in on three devices uses the sessions list on the page, then it shows each, ends one, logs out the other devices and ends itself',
  { skip: skipWithoutChromium, timeout: 120_000 },
  async (t: TestContext) => {
    const cluster = await startTestCluster({
      replicas: 3,
      port: await freePort(),
      env: { LOG_LEVEL: 'warn', PASSWORD_SCRYPT_COST: '1024' },
    });
    t.after(() => cluster.stop());
    const browser = await launchChromium(t);
    const username = uniqueName('devices');
    const here = await device(browser, cluster.url, username, 'register');
    const errors: string[] = [];
    here.on('pageerror', (err) => errors.push(err.message));
    const laptop = await device(browser, cluster.url, username, 'login', FIREFOX_ON_WINDOWS);
    const phone = await device(browser, cluster.url, username, 'login', SAFARI_ON_IOS);

    await signedInView(here);
    await listed(here).nth(2).waitFor();
    const lines = await listed(here).allTextContents();
    assert.equal(lines.length, 3, lines.join('\n'));
    assert.equal(lines.filter((line) => line.includes('(this device)')).length, 1);
    assert.ok(
      lines.some((line) => line.startsWith('Chrome on Linux (this device)')),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((line) => line.startsWith('Firefox on Windows')),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((line) => line.startsWith('Safari on iOS')),
      lines.join('\n'),
    );
    mkdirSync(join(screenshot, '..'), { recursive: true });
    await here.screenshot({ path: screenshot, fullPage: true });

    await listed(here).filter({ hasText: 'Firefox on Windows' }).getByRole('button', { name: 'End' }).click();
    await listed(here).filter({ hasText: 'Firefox on Windows' }).waitFor({ state: 'detached' });
    await assertSignedOut(laptop);
    await signedInView(phone);

    await here.getByRole('button', { name: 'Log out other devices' }).click();
    await here.locator('#end-others').waitFor({ state: 'hidden' });
    assert.deepEqual(
      (await listed(here).allTextContents()).map((line) => line.split(':')[0]),
      ['Chrome on Linux (this device)'],
    );
    await assertSignedOut(phone);
    await signedInView(here);

    await listed(here).getByRole('button', { name: 'Log out' }).click();
    await here.locator('#signed-out').waitFor({ state: 'visible', timeout: 10_000 });
    await assertSignedOut(here);
    assert.deepEqual(errors, []);
  },
);
