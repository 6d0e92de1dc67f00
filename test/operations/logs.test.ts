/** Logs: JSON lines that carry nginx's request id and the instance, and never a session id, cookie, token or secret. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { HttpClient, PASSWORD, uniqueName } from '../helpers/http-client.js';
import { TEST_SECRET } from '../helpers/app-instance.js';
import { startTestCluster } from '../helpers/cluster.js';
import { logLines } from './support.js';
import { sessionIdOf } from '../helpers/cookies.js';

let cluster: Awaited<ReturnType<typeof startTestCluster>>;
before(async () => {
  // The most verbose level: whatever any line could carry, this run writes it.
  cluster = await startTestCluster({ replicas: 1, env: { LOG_LEVEL: 'trace', PASSWORD_SCRYPT_COST: '1024' } });
});
after(async () => {
  await cluster?.stop();
});

/**
 * The replica's "request completed" lines, once `ready` holds for them or after 2 s. A line is written when the
 * response has finished on the replica, which can be just after the client has received all of it.
 */
async function completedLines(ready: (lines: Record<string, any>[]) => boolean): Promise<Record<string, any>[]> {
  for (let i = 0; ; i++) {
    const lines = logLines(cluster.replicas()[0]!.logFile).filter((l) => l.msg === 'request completed');
    if (ready(lines) || i === 40) return lines;
    await sleep(50);
  }
}

describe('Logs', () => {
  it('When a user registers, logs in, fails a login, fills the cart and logs out, then no log line holds a session id, cookie, CSRF token, password or secret', async () => {
    const username = uniqueName();
    const client = new HttpClient(cluster.url);
    const secrets = [TEST_SECRET, PASSWORD];
    const remember = () => {
      const cookie = client.cookies.get('sid');
      if (cookie) secrets.push(cookie, sessionIdOf(cookie));
      if (client.csrfToken) secrets.push(client.csrfToken);
    };
    assert.equal((await client.post('/api/register', { username, password: PASSWORD })).status, 201);
    remember();
    assert.equal((await client.get('/api/me')).status, 200);
    assert.equal((await client.post('/api/cart', { item: 'apple' })).status, 200);
    assert.equal((await new HttpClient(cluster.url).post('/api/login', { username, password: `${PASSWORD}!` })).status, 401);
    assert.equal((await client.post('/api/login', { username, password: PASSWORD })).status, 200);
    remember();
    assert.equal((await client.get('/api/nope')).status, 404);
    assert.equal((await client.post('/api/cart', { item: 'x' }, { 'x-csrf-token': 'wrong' })).status, 403);
    assert.equal((await client.post('/api/logout')).status, 204);

    assert.ok((await completedLines((all) => all.length >= 8)).length >= 8, 'requests were logged');
    const text = readFileSync(cluster.replicas()[0]!.logFile, 'utf8');
    for (const secret of secrets) assert.ok(!text.includes(secret), `the log holds ${secret.slice(0, 12)}…`);
  });

  it("When a request passes nginx, then its log line carries nginx's X-Request-Id (the client's if sent) and the instance", async () => {
    const client = new HttpClient(cluster.url);
    const sent = await client.get('/api/me', { 'x-request-id': 'trace-from-client-42' });
    const generated = await client.get('/api/cart');
    const nginxId = generated.headers.get('x-request-id');
    assert.match(nginxId ?? '', /^[0-9a-f]{32}$/, 'nginx made one up');
    assert.equal(sent.headers.get('x-request-id'), 'trace-from-client-42');

    const lines = await completedLines((all) => all.some((l) => l.req?.id === nginxId));
    const byId = (id: string) => lines.find((l) => l.req?.id === id);
    assert.equal(byId('trace-from-client-42')?.req.url, '/api/me');
    assert.equal(byId(nginxId!)?.req.url, '/api/cart');
    assert.equal(byId(nginxId!)?.instance, sent.headers.get('x-instance'));
  });
});
