/**
 * Graceful shutdown of real replica processes: readiness fails at once, the replica keeps serving through the drain,
 * stops accepting, finishes in-flight requests (up to a deadline), and exits 0; behind nginx, under load, no request
 * fails. The slow request is a real one: a login whose query waits on a table lock the test holds.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { Cluster } from '../../infra/cluster.js';
import { HttpClient, PASSWORD, uniqueName } from '../helpers/http-client.js';
import { migratedDatabase } from '../helpers/database.js';
import { replicaEnv } from '../helpers/replicas.js';
import { startTestCluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/wait-for.js';
import { logLines, startLoggedReplica } from './support.js';

let databaseUrl: string;
let logDir: string;
before(async () => {
  databaseUrl = await migratedDatabase();
  logDir = mkdtempSync(join(tmpdir(), 'shutdown-test-'));
});
after(() => rmSync(logDir, { recursive: true, force: true }));

async function registered(baseUrl: string) {
  const client = new HttpClient(baseUrl);
  const username = uniqueName();
  assert.equal((await client.post('/api/register', { username, password: PASSWORD })).status, 201);
  return { client, username };
}

/** Holds an exclusive lock on login_failures, so a login waits in its first query until release(). */
async function holdLoginLock(t: { after(fn: () => Promise<void>): void }) {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query('BEGIN');
  await admin.query('LOCK TABLE login_failures IN ACCESS EXCLUSIVE MODE');
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await admin.query('ROLLBACK');
    await admin.end();
  };
  t.after(release);
  return {
    release,
    /** Resolves once an app query is queued behind the lock (its pg_stat_activity row). */
    async waiter() {
      await waitFor(
        async () =>
          (
            await admin.query(
              // Only this file's database: other test files hold app queries on locks of their own at the same time.
              `SELECT 1 FROM pg_stat_activity WHERE application_name = 'express-pg-sessions' AND wait_event_type = 'Lock' AND datname = current_database()`,
            )
          ).rowCount,
        { what: 'an app query waits on the lock' },
      );
    },
  };
}

const refused = (url: string) =>
  fetch(url).then(
    () => false,
    (err: Error) => (err.cause as { code?: string } | undefined)?.code === 'ECONNREFUSED',
  );

/**
 * Timers in the replica start no earlier than the SIGTERM's arrival, which follows `signalledAt` (taken in this process,
 * before the kill); the two clocks (Node's loop clock there, Date.now() here) round to the millisecond differently.
 */
const TIMER_ROUNDING_MS = 50;

describe('Graceful shutdown of one replica', () => {
  it(
    'When SIGTERM arrives during a slow request, then readiness fails, the drain serves, the request completes and the exit is 0',
    { timeout: 60_000 },
    async (t) => {
      // Long enough that the checks of the drain (a handful of requests) fit in it on a loaded machine.
      const drainMs = 3_000;
      const logFile = join(logDir, 'drain.log');
      const replica = await startLoggedReplica(
        t,
        replicaEnv(databaseUrl, {
          SHUTDOWN_DRAIN_MS: String(drainMs),
          // The in-flight request is held until the test lets it go: no deadline may cut it first.
          SHUTDOWN_TIMEOUT_MS: '60000',
          PG_STATEMENT_TIMEOUT_MS: '30000',
          PASSWORD_SCRYPT_COST: '1024',
          LOG_LEVEL: 'info',
        }),
        logFile,
      );
      const slow = await registered(replica.url);
      const reader = await registered(replica.url);
      const lock = await holdLoginLock(t);
      const login = new HttpClient(replica.url).post('/api/login', { username: slow.username, password: PASSWORD });
      await lock.waiter();

      const signalledAt = Date.now();
      replica.child.kill('SIGTERM');
      // The event: readiness turns 503 (200 until the replica has handled the signal).
      const ready = await waitFor(
        async () => {
          const answer = await reader.client.get('/readyz');
          return answer.status === 503 && answer;
        },
        { what: 'readiness answers 503 after SIGTERM', timeoutMs: drainMs },
      );
      assert.deepEqual(ready.body, { status: 'draining' });
      assert.equal((await reader.client.get('/healthz')).status, 200);
      for (let i = 0; i < 5; i++)
        assert.equal((await reader.client.get('/api/me')).status, 200, 'normal requests are served during the drain');
      // The drain ends no earlier than signalledAt + drainMs (see TIMER_ROUNDING_MS): answered before that, the
      // requests above were served while readiness failed and the port still accepted.
      const checkedWithin = Date.now() - signalledAt;
      assert.ok(checkedWithin < drainMs - TIMER_ROUNDING_MS, `all of that happened within the drain: ${checkedWithin} ms`);

      // The event: the port refuses new connections. Not before the drain is over (lower bound); soon after it (upper
      // bound, with slack for a loaded machine).
      await waitFor(() => refused(`${replica.url}/healthz`), {
        what: 'new connections are refused after the drain',
        timeoutMs: drainMs + 15_000,
      });
      const refusedAfter = Date.now() - signalledAt;
      assert.ok(refusedAfter >= drainMs - TIMER_ROUNDING_MS, `refused after ${refusedAfter} ms, before the ${drainMs} ms drain ended`);
      t.diagnostic(`readiness 503 and the drain's requests within ${checkedWithin} ms; refused after ${refusedAfter} ms`);
      // The replica cannot finish: its login waits on the lock the test holds (and no deadline applies for 60 s).
      assert.ok(replica.child.exitCode === null && replica.child.signalCode === null, 'still running: a request is in flight');

      await lock.release();
      const done = await login;
      assert.equal(done.status, 200, 'the in-flight request completed');
      assert.deepEqual(done.body.user, { username: slow.username });
      assert.equal(await replica.exited, 0);
      const messages = logLines(logFile).map((l) => l.msg);
      assert.ok(messages.includes('shutdown: complete'), messages.join(' | '));
    },
  );

  it(
    'When an in-flight request outlasts SHUTDOWN_TIMEOUT_MS, then its connection is closed and the process still exits 0',
    { timeout: 60_000 },
    async (t) => {
      const logFile = join(logDir, 'deadline.log');
      const replica = await startLoggedReplica(
        t,
        replicaEnv(databaseUrl, {
          SHUTDOWN_DRAIN_MS: '0',
          SHUTDOWN_TIMEOUT_MS: '500',
          PG_STATEMENT_TIMEOUT_MS: '30000',
          PASSWORD_SCRYPT_COST: '1024',
          LOG_LEVEL: 'info',
        }),
        logFile,
      );
      const { username } = await registered(replica.url);
      const lock = await holdLoginLock(t);
      const login = new HttpClient(replica.url).post('/api/login', { username, password: PASSWORD }).then(
        (res) => res.status,
        () => 'connection closed',
      );
      await lock.waiter();
      const signalledAt = Date.now();
      replica.child.kill('SIGTERM');
      assert.equal(await login, 'connection closed');
      const cutAfter = Date.now() - signalledAt;
      // Lower bound: the deadline's timer starts after the signal arrived (see TIMER_ROUNDING_MS). Upper bound: slack for
      // a loaded machine, still far below what the request would take without the deadline (30 s statement timeout).
      assert.ok(cutAfter >= 500 - TIMER_ROUNDING_MS && cutAfter < 10_000, `cut after ${cutAfter} ms`);
      t.diagnostic(`cut after ${cutAfter} ms`);
      // The pool waits for the query still queued on the lock (statement_timeout bounds that wait).
      await lock.release();
      assert.equal(await replica.exited, 0);
      assert.ok(logLines(logFile).some((l) => l.msg === 'shutdown: in-flight requests did not finish in time, closing their connections'));
    },
  );
});

describe('Replicas stopped under load behind nginx', () => {
  it(
    'When replicas are taken out of nginx and restarted one at a time under keep-alive load, then no request fails or applies twice',
    { timeout: 120_000 },
    async (t) => {
      const cluster = await clusterFor(t);
      const users = await Promise.all(Array.from({ length: 6 }, () => registered(cluster.url)));
      const pidsBefore = cluster.replicas().map((r) => r.pid);

      const load = runLoad(cluster.url, users, { withPosts: true });
      t.after(() => load.stop()); // also when a restart below throws
      // Events, not delays: the load reaches every replica before the restarts, and both new processes after them.
      await load.answeredBy(3);
      await cluster.restartReplica(0);
      await cluster.restartReplica(1);
      await load.answeredBy(5);
      const result = await load.stop();

      assert.deepEqual(result.failures, [], `${result.failures.length} of ${result.requests} requests failed`);
      assert.ok(result.requests > 300, `enough load to matter: ${result.requests} requests`);
      for (const [i, user] of users.entries()) {
        assert.deepEqual(
          (await user.client.get('/api/cart')).body.cart,
          result.posted[i],
          'every cart POST that succeeded is applied, once',
        );
      }
      const pidsAfter = cluster.replicas().map((r) => r.pid);
      assert.ok(pidsAfter[0] !== pidsBefore[0] && pidsAfter[1] !== pidsBefore[1]);
      assert.ok(result.instances.size >= 5, `old and new processes served the load: ${[...result.instances].join(', ')}`);
      t.diagnostic(`${result.requests} requests, ${result.resent} resent after nginx's reload closed an idle client connection`);
    },
  );

  it(
    'When a replica gets SIGTERM with nginx not told, as from an orchestrator, then no GET fails: it drains, then nginx fails over',
    { timeout: 120_000 },
    async (t) => {
      const cluster = await clusterFor(t);
      const users = await Promise.all(Array.from({ length: 6 }, () => registered(cluster.url)));
      const load = runLoad(cluster.url, users, { withPosts: false });
      t.after(() => load.stop()); // also when a stop below throws
      await load.answeredBy(3);
      for (const i of [0, 1]) {
        await cluster.killReplica(i, 'SIGTERM');
        await cluster.waitForReplica(i);
      }
      await load.answeredBy(5);
      const result = await load.stop();
      assert.deepEqual(result.failures, [], `${result.failures.length} of ${result.requests} requests failed`);
      assert.ok(result.requests > 300, `enough load to matter: ${result.requests} requests`);
      assert.equal(result.resent, 0, 'no client connection was closed under it: nginx was not reloaded');
    },
  );
});

async function clusterFor(t: { after(fn: () => Promise<void>): void }): Promise<Cluster> {
  const cluster = await startTestCluster({ databaseUrl, replicas: 3, env: { LOG_LEVEL: 'warn', PASSWORD_SCRYPT_COST: '1024' } });
  t.after(() => cluster.stop());
  return cluster;
}

interface Answer {
  status: number;
  instance: string;
}

/**
 * One keep-alive connection per user, like a browser tab, through node:http. Like browsers (and as Node's docs on
 * `request.reusedSocket` describe), a request is sent again once when the server closed the reused idle connection
 * before any byte of the answer: nginx closes idle client connections when it reloads. Anything else is a failure.
 */
function keepAliveUser(baseUrl: string, user: { client: HttpClient }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let resent = 0;
  const once = (method: string, path: string, body?: unknown) =>
    new Promise<Answer>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(new URL(path, baseUrl), {
        method,
        agent,
        headers: {
          cookie: user.client.cookieHeader,
          'x-csrf-token': user.client.csrfToken,
          ...(payload && { 'content-type': 'application/json' }),
        },
      });
      let answered = false;
      req.on('response', (res) => {
        answered = true;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, instance: String(res.headers['x-instance']) }));
        res.on('error', reject);
      });
      req.on('error', (err) => reject(Object.assign(err, { resendable: req.reusedSocket && !answered })));
      req.end(payload);
    });
  return {
    get resent() {
      return resent;
    },
    async send(method: string, path: string, body?: unknown): Promise<Answer> {
      try {
        return await once(method, path, body);
      } catch (err) {
        if (!(err as { resendable?: boolean }).resendable) throw err;
        resent++;
        return once(method, path, body);
      }
    },
    close: () => agent.destroy(),
  };
}

/** GETs (and cart POSTs) from every user in turn until stop(); bounded in count and time. */
function runLoad(baseUrl: string, users: { client: HttpClient }[], { withPosts }: { withPosts: boolean }) {
  const MAX_REQUESTS_PER_USER = 3_000;
  const deadline = Date.now() + 60_000;
  let stopping = false;
  let requests = 0;
  const failures: string[] = [];
  const instances = new Set<string>();
  const posted: string[][] = users.map(() => []);
  const connections = users.map((user) => keepAliveUser(baseUrl, user));
  const worker = async (index: number) => {
    const connection = connections[index]!;
    for (let i = 0; i < MAX_REQUESTS_PER_USER && !stopping && Date.now() < deadline; i++) {
      // Cart POSTs stay under the 50-item limit.
      const post = withPosts && i % 3 === 2 && posted[index]!.length < 45;
      const item = `item-${i}`;
      const what = post ? 'POST /api/cart' : i % 2 ? 'GET /api/me' : 'GET /api/cart';
      requests++;
      try {
        const answer = post ? await connection.send('POST', '/api/cart', { item }) : await connection.send('GET', what.slice(4));
        instances.add(answer.instance);
        if (answer.status !== 200) failures.push(`${what}: ${answer.status} from ${answer.instance}`);
        else if (post) posted[index]!.push(item);
      } catch (err) {
        failures.push(`${what}: ${(err as Error).message}`);
      }
    }
  };
  const running = Promise.all(users.map((_, index) => worker(index)));
  return {
    /** Resolves once `count` distinct processes (X-Instance) have answered; the bound only guards against a hang. */
    answeredBy: (count: number) =>
      waitFor(() => instances.size >= count, {
        what: () => `${count} replica processes answer the load (so far: ${[...instances].join(', ')})`,
        timeoutMs: 30_000,
      }),
    async stop() {
      stopping = true;
      await running;
      for (const connection of connections) connection.close();
      return { failures, requests, instances, posted, resent: connections.reduce((n, c) => n + c.resent, 0) };
    },
  };
}
