/**
 * Account connections in a real browser through nginx in front of three replicas: the page lists the configured
 * provider, "Connect" goes through the local provider and back to whichever replica, the page says so and lists the
 * connection (and every replica does), "Remove" removes it. Saves results/browser-connections.png.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startConnectionsMock } from '../infra/connections-mock.js';
import { uniqueName } from './helpers/http-client.js';
import { launchChromium, newPage, registerOnPage, signedInView, skipWithoutChromium, startBrowserCluster } from './helpers/browser.js';

const screenshot = fileURLToPath(new URL('../results/browser-connections.png', import.meta.url));

test(
  'When a signed-in user connects the provider on the page, then the browser comes back connected through any replica, and Remove removes it',
  { skip: skipWithoutChromium, timeout: 120_000 },
  async (t: TestContext) => {
    const provider = await startConnectionsMock();
    t.after(() => provider.stop());
    const cluster = await startBrowserCluster(t, (origin) => ({
      CONNECTIONS_KEY: randomBytes(32).toString('base64'),
      ...provider.env(origin),
    }));
    const browser = await launchChromium(t);
    const errors: string[] = [];
    const page = await newPage(browser, errors);
    await registerOnPage(page, cluster.url, uniqueName('connect'));
    const row = page.locator('#connections li[data-provider=mock]');
    await row.locator('text=not connected').waitFor();

    await row.locator('a', { hasText: 'Connect' }).click();
    await page.waitForURL(`${cluster.url}/`); // back from the provider; the page drops ?connection=mock&result=connected
    await page.locator('#connections-message', { hasText: 'Connected to mock.' }).waitFor();
    await row.locator('text=/Mock provider: connected since .* \\(activity:read, profile\\)/').waitFor();
    mkdirSync(join(screenshot, '..'), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });

    // The browser's session, asked on each replica directly: connected everywhere, whichever replica took the callback.
    const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    for (const replica of cluster.replicas()) {
      const { connections } = (await (await fetch(`${replica.url}/api/connections`, { headers: { cookie } })).json()) as {
        connections: { provider: string; status: string }[];
      };
      assert.deepEqual(
        connections.map((c) => [c.provider, c.status]),
        [['mock', 'valid']],
        replica.url,
      );
    }
    await signedInView(page);
    await row.locator('text=/connected since/').waitFor();

    await row.locator('button', { hasText: 'Remove' }).click();
    await page.locator('#connections-message', { hasText: 'Mock provider removed.' }).waitFor();
    await row.locator('text=not connected').waitFor();
    assert.deepEqual(errors, [], 'no script errors on the page');
  },
);
