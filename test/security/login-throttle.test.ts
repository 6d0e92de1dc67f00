/**
 * The failed-login throttle is kept in PostgreSQL, so it holds when attempts are spread over every replica, one by
 * one or all at once. Three replica processes behind real nginx; each test starts with no recorded failures.
 */
import { describe, it, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { HttpClient, PASSWORD, uniqueName, type Reply } from '../helpers/http-client.js';
import { migratedDatabase } from '../helpers/database.js';
import { startTestCluster } from '../helpers/cluster.js';

const MAX_PER_USER = 3;
const MAX_PER_IP = 8;
const WINDOW_SECONDS = 900;

let cluster: Awaited<ReturnType<typeof startTestCluster>>;
let db: pg.Pool;
let username: string;

before(async () => {
  const databaseUrl = await migratedDatabase();
  db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  cluster = await startTestCluster({
    databaseUrl,
    replicas: 3,
    env: {
      LOG_LEVEL: 'warn',
      LOGIN_MAX_FAILURES_PER_USER: String(MAX_PER_USER),
      LOGIN_MAX_FAILURES_PER_IP: String(MAX_PER_IP),
      LOGIN_THROTTLE_WINDOW_SECONDS: String(WINDOW_SECONDS),
      PASSWORD_SCRYPT_COST: '1024',
    },
  });
});
after(async () => {
  await cluster?.stop();
  await db?.end();
});
beforeEach(async () => {
  await db.query('DELETE FROM login_failures');
  username = uniqueName('throttled');
  const res = await new HttpClient(cluster.url).post('/api/register', { username, password: PASSWORD });
  assert.equal(res.status, 201);
});

const replicaUrls = () => cluster.replicas().map((r) => r.url);
const login = (baseUrl: string, name: string, password: string, headers?: Record<string, string>) =>
  new HttpClient(baseUrl).post('/api/login', { username: name, password }, headers);
const spoofedIp = () => `203.0.113.${randomBytes(1)[0]}`;

function assertThrottled(res: Reply, where: string) {
  assert.equal(res.status, 429, where);
  assert.deepEqual(res.body, { error: 'too many failed logins, try again later' });
  const retryAfter = Number(res.headers.get('retry-after'));
  assert.ok(retryAfter > 0 && retryAfter <= WINDOW_SECONDS, `${where}: Retry-After ${retryAfter}`);
}

describe('Login throttling across replicas', () => {
  it('When a name fails on each replica in turn, then after the limit every replica answers 429, even to the right password', async () => {
    const urls = replicaUrls();
    for (let i = 0; i < MAX_PER_USER; i++) {
      assert.equal((await login(urls[i % urls.length]!, username, 'wrong password')).status, 401, `attempt ${i + 1}`);
    }
    for (const url of urls) {
      assertThrottled(await login(url, username, 'wrong password'), url);
      assertThrottled(await login(url, username.toUpperCase(), PASSWORD), `${url}, right password, other letter case`);
    }
  });

  it('When failures for many names come through nginx, then the per-IP limit counts the address nginx saw, not X-Forwarded-For sent by the client', async () => {
    const instances = new Set<string>();
    for (let i = 0; i < MAX_PER_IP; i++) {
      const res = await login(cluster.url, uniqueName('ghost'), 'wrong password', { 'x-forwarded-for': spoofedIp() });
      assert.equal(res.status, 401, `attempt ${i + 1}`);
      instances.add(res.headers.get('x-instance')!);
    }
    assert.equal(instances.size, 3, 'nginx spread the attempts over the three replicas');
    assertThrottled(await login(cluster.url, uniqueName('ghost'), 'wrong password', { 'x-forwarded-for': spoofedIp() }), 'next name');
    assertThrottled(await login(cluster.url, username, PASSWORD), 'a real user from the same address');
    const { rows } = await db.query(`SELECT DISTINCT key FROM login_failures WHERE key LIKE 'ip:%'`);
    assert.deepEqual(rows, [{ key: 'ip:127.0.0.1' }], 'the spoofed addresses were never counted');
  });

  it('When failures reach the replicas directly, then their socket address is the one counted', async () => {
    const urls = replicaUrls();
    for (let i = 0; i < MAX_PER_IP; i++) {
      assert.equal((await login(urls[i % urls.length]!, uniqueName('ghost'), 'wrong password')).status, 401);
    }
    for (const url of urls) assertThrottled(await login(url, uniqueName('ghost'), 'wrong password'), url);
  });

  it('When many wrong passwords for one name arrive at once on all replicas, then at most the limit are checked', async () => {
    const urls = replicaUrls();
    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => login(urls[i % urls.length]!, username, `wrong password ${i}`)));
    const statuses = burst.map((r) => r.status);
    // Fewer than the limit, even none, when attempts see each other's rows before any is refused: the safe side.
    const checked = statuses.filter((s) => s === 401).length;
    assert.ok(checked <= MAX_PER_USER, `${checked} passwords checked: ${statuses.join(' ')}`);
    assert.equal(statuses.filter((s) => s === 429).length, 30 - checked, `the others are refused: ${statuses.join(' ')}`);
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM login_failures WHERE key = $1`, [`user:${username.toLowerCase()}`]);
    assert.equal(rows[0].n, checked, 'refused attempts are not recorded');
    // Whatever the burst got, the name's total stays at the limit.
    for (let i = checked; i < MAX_PER_USER; i++) {
      assert.equal((await login(urls[i % urls.length]!, username, 'wrong password')).status, 401, `attempt ${i + 1} after the burst`);
    }
    assertThrottled(await login(urls[0]!, username, PASSWORD), 'afterwards, the right password');
  });
});
