/**
 * A real browser through nginx in front of three replicas: Debian's chromium driven by playwright-core
 * (`npx playwright install` cannot download here). Registers through the page, sees several replicas answer,
 * stays signed in through a rolling restart, signs in with OIDC, and saves results/browser.png (and -sign-in.png).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startOidcMock } from '../infra/oidc-mock.js';
import { uniqueName } from './helpers/http-client.js';
import { launchChromium, newPage, registerOnPage, signedInView, skipWithoutChromium, startBrowserCluster } from './helpers/browser.js';

const screenshot = fileURLToPath(new URL('../results/browser.png', import.meta.url));
const RELOADS = 9;

test(
  'When a browser uses the site through nginx, then it stays signed in across replicas and a rolling restart, and OIDC sign-in works',
  { skip: skipWithoutChromium, timeout: 120_000 },
  async (t: TestContext) => {
    const oidc = await startOidcMock();
    t.after(() => oidc.stop());
    const cluster = await startBrowserCluster(t, (origin) => oidc.env(`${origin}/api/oidc/callback`));
    const browser = await launchChromium(t);

    const errors: string[] = [];
    const page = await newPage(browser, errors);
    const username = uniqueName('browser');
    await registerOnPage(page, cluster.url, username);
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
    const sso = await newPage(browser, errors);
    await sso.goto(cluster.url);
    await sso.locator('#oidc').waitFor({ state: 'visible' });
    await sso.screenshot({ path: screenshot.replace('.png', '-sign-in.png') });
    await sso.click('text=Sign in with OIDC');
    await sso.waitForURL(`${cluster.url}/`);
    assert.equal((await signedInView(sso, false)).user, oidcName);
    assert.deepEqual(errors, [], 'no script errors on the page');
  },
);
