/**
 * A database outage: PostgreSQL stopped under two replicas behind nginx, then started again. This file runs its own
 * PostgreSQL (embedded), since stopping the shared one would break the other test files.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startPostgres, type PostgresHandle } from '../../infra/postgres.js';
import { migrate } from '../../infra/migrate.js';
import { HttpClient, PASSWORD, uniqueName, type Reply } from '../helpers/http-client.js';
import { startTestCluster } from '../helpers/cluster.js';
import { replicaEnv, startReadyReplica } from '../helpers/replicas.js';
import { sample, scrape, startFreezableProxy } from './support.js';

const CONNECT_TIMEOUT_MS = 1_000;
let postgres: PostgresHandle;
let cluster: Awaited<ReturnType<typeof startTestCluster>>;

before(async () => {
  postgres = await startPostgres({ env: {}, useContainers: false });
  await migrate({ DATABASE_URL: postgres.url });
  cluster = await startTestCluster({
    databaseUrl: postgres.url,
    replicas: 2,
    env: { LOG_LEVEL: 'warn', PASSWORD_SCRYPT_COST: '1024', PG_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS) },
  });
});
after(async () => {
  await cluster?.stop();
  await postgres?.stop();
});

async function timed(request: () => Promise<Reply>): Promise<Reply & { ms: number }> {
  const started = Date.now();
  const reply = await request();
  return { ...reply, ms: Date.now() - started };
}

async function untilReady(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await fetch(`${url}/readyz`)).status !== 200) {
    if (Date.now() > deadline) throw new Error(`${url} not ready again after ${timeoutMs} ms`);
    await sleep(200);
  }
}

describe('Database outage', () => {
  it(
    'When PostgreSQL stops, then session requests get a quick JSON 503, readiness fails, liveness holds; when it returns, all recovers',
    { timeout: 60_000 },
    async () => {
      const username = uniqueName();
      const user = new HttpClient(cluster.url);
      assert.equal((await user.post('/api/register', { username, password: PASSWORD })).status, 201);
      assert.equal((await user.post('/api/cart', { item: 'kept' })).status, 200);
      const pids = cluster.replicas().map((r) => r.pid);

      await postgres.pause();

      const stranger = () => new HttpClient(cluster.url);
      const requests: [string, () => Promise<Reply>][] = [
        ['GET /api/me', () => user.get('/api/me')],
        ['GET /api/cart', () => user.get('/api/cart')],
        ['POST /api/cart', () => user.post('/api/cart', { item: 'lost' })],
        ['POST /api/logout', () => user.post('/api/logout')],
        ['POST /api/login with a session', () => user.post('/api/login', { username, password: PASSWORD })],
        ['POST /api/login (throttle and users queries)', () => stranger().post('/api/login', { username, password: PASSWORD })],
        ['POST /api/register', () => stranger().post('/api/register', { username: uniqueName(), password: PASSWORD })],
      ];
      // Twice each, so both replicas answer every kind of request.
      for (const [what, request] of [...requests, ...requests]) {
        const res = await timed(request);
        assert.equal(res.status, 503, what);
        assert.deepEqual(res.body, { error: 'database unavailable, try again shortly' }, what);
        assert.equal(res.headers.get('retry-after'), '1', what);
        assert.ok(res.headers.get('x-instance'), `${what}: the replica's answer, not nginx's`);
        assert.ok(res.ms < CONNECT_TIMEOUT_MS + 1_000, `${what} took ${res.ms} ms`);
      }
      for (const replica of cluster.replicas()) {
        assert.equal((await fetch(`${replica.url}/healthz`)).status, 200);
        const ready = await fetch(`${replica.url}/readyz`);
        assert.equal(ready.status, 503);
        assert.deepEqual(await ready.json(), { status: 'database unreachable' });
      }
      const errors = await Promise.all(
        cluster.replicas().map(async (r) => sample(await scrape(r), 'session_store_errors_total', { operation: 'get' })),
      );
      assert.ok(
        errors.every((n) => n > 0),
        `store get errors counted on each replica: ${errors}`,
      );

      await postgres.resume();
      for (const replica of cluster.replicas()) await untilReady(replica.url);

      const me = await user.get('/api/me');
      assert.equal(me.status, 200);
      assert.deepEqual(me.body.user, { username });
      assert.deepEqual((await user.get('/api/cart')).body, { cart: ['kept'] }, 'the session and its cart are intact');
      assert.equal((await stranger().post('/api/login', { username, password: PASSWORD })).status, 200);
      assert.deepEqual(
        cluster.replicas().map((r) => r.pid),
        pids,
        'no replica crashed or restarted',
      );
      assert.ok(cluster.replicas().every((r) => r.restarts === 0));
    },
  );

  it(
    'When PostgreSQL stops answering but keeps connections open, then requests get a 503 within the query timeout, not a hang',
    { timeout: 60_000 },
    async (t) => {
      const proxy = await startFreezableProxy(postgres.url);
      t.after(() => proxy.close());
      const statementTimeoutMs = 1_000;
      const replica = await startReadyReplica(
        t,
        replicaEnv(proxy.url, {
          PG_STATEMENT_TIMEOUT_MS: String(statementTimeoutMs),
          PG_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
          PASSWORD_SCRYPT_COST: '1024',
        }),
      );
      const username = uniqueName();
      const user = new HttpClient(replica.url);
      assert.equal((await user.post('/api/register', { username, password: PASSWORD })).status, 201);

      proxy.freeze();
      // A query on a pooled connection waits for the client-side query timeout (statement timeout + 1 s); a new
      // connection for the connect timeout. Either way well under nginx's 30 s read timeout.
      const bound = statementTimeoutMs + 1_000 + 1_500;
      for (const [what, request] of [
        ['GET /api/me', () => user.get('/api/me')],
        ['POST /api/login', () => new HttpClient(replica.url).post('/api/login', { username, password: PASSWORD })],
        ['GET /readyz', () => user.get('/readyz')],
      ] as const) {
        const res = await timed(request);
        assert.equal(res.status, 503, what);
        assert.ok(res.ms < bound, `${what} took ${res.ms} ms`);
      }
      assert.equal((await user.get('/healthz')).status, 200);

      proxy.thaw();
      await untilReady(replica.url);
      assert.deepEqual((await user.get('/api/me')).body.user, { username });
    },
  );
});
