/** The HTTP contract of one replica, against a real Postgres. */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startApp, TEST_SECRET, type AppInstance } from './helpers/app-instance.js';
import { HttpClient, PASSWORD, uniqueName } from './helpers/http-client.js';
import { migratedDatabase } from './helpers/database.js';
import { sessionIdOf, signedSessionCookie } from './helpers/cookies.js';

let databaseUrl: string;
before(async () => {
  databaseUrl = await migratedDatabase();
});

async function registered(app: AppInstance) {
  const client = new HttpClient(app.url);
  const username = uniqueName();
  const res = await client.post('/api/register', { username, password: PASSWORD });
  assert.equal(res.status, 201);
  return { client, username };
}

describe('Registration', () => {
  it('When a new name registers, then it gets 201, its name, a CSRF token and an HttpOnly SameSite=Lax cookie', async (t) => {
    const app = await startApp(t, databaseUrl);
    const client = new HttpClient(app.url);
    const username = uniqueName();
    const res = await client.post('/api/register', { username, password: PASSWORD });
    assert.equal(res.status, 201);
    assert.deepEqual(res.body.user, { username });
    assert.match(res.body.csrfToken, /^[\w-]{40,}$/);
    const cookie = res.headers.getSetCookie()[0]!;
    assert.match(cookie, /^sid=s%3A/);
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    assert.doesNotMatch(cookie, /Secure/, 'plain HTTP without a proxy saying https: no Secure flag');
    const maxAge = Date.parse(/Expires=([^;]+)/.exec(cookie)![1]!) - Date.now();
    assert.ok(Math.abs(maxAge - 30 * 24 * 3600_000) < 60_000, 'cookie lives 30 days by default');
  });

  it('When the name is taken (in any letter case), then 409', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { username } = await registered(app);
    const res = await new HttpClient(app.url).post('/api/register', { username: username.toUpperCase(), password: PASSWORD });
    assert.equal(res.status, 409);
    assert.deepEqual(res.body, { error: 'username taken' });
  });

  it('When the input is invalid, then 400 with a JSON error and no cookie', async (t) => {
    const app = await startApp(t, databaseUrl);
    for (const body of [
      {},
      { username: 'ab', password: PASSWORD },
      { username: uniqueName(), password: 'short' },
      { username: 'x y z', password: PASSWORD },
      [1, 2],
      'null',
    ]) {
      const res = await new HttpClient(app.url).post('/api/register', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(typeof res.body.error, 'string');
      assert.equal(res.headers.getSetCookie().length, 0);
    }
  });
});

describe('Login', () => {
  it('When the password is right, then 200 and a NEW session id; the old session is gone', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { client, username } = await registered(app);
    const before = client.sharingSessionWith(app.url);
    const res = await client.post('/api/login', { username, password: PASSWORD });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.user, { username });
    assert.notEqual(client.cookieHeader, before.cookieHeader);
    assert.equal((await client.get('/api/me')).status, 200);
    assert.equal((await before.get('/api/me')).status, 401, 'the pre-login session was destroyed');
  });

  it('When the password is wrong or the user unknown, then 401', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { username } = await registered(app);
    assert.equal((await new HttpClient(app.url).post('/api/login', { username, password: 'wrong password' })).status, 401);
    assert.equal((await new HttpClient(app.url).post('/api/login', { username: uniqueName('ghost'), password: PASSWORD })).status, 401);
  });

  it('When the body is malformed, then 400', async (t) => {
    const app = await startApp(t, databaseUrl);
    const client = new HttpClient(app.url);
    assert.equal((await client.post('/api/login', '{"username":')).status, 400);
    assert.equal((await client.post('/api/login', { username: 42, password: [] })).status, 400);
    assert.equal((await client.post('/api/login', undefined)).status, 400);
  });

  it('When a name fails too often, then 429 with Retry-After, even with the right password', async (t) => {
    const app = await startApp(t, databaseUrl, { LOGIN_MAX_FAILURES_PER_USER: '3' });
    const { username } = await registered(app);
    for (let i = 0; i < 3; i++) {
      assert.equal((await new HttpClient(app.url).post('/api/login', { username, password: 'wrong password' })).status, 401);
    }
    const res = await new HttpClient(app.url).post('/api/login', { username, password: PASSWORD });
    assert.equal(res.status, 429);
    const retryAfter = Number(res.headers.get('retry-after'));
    assert.ok(retryAfter > 0 && retryAfter <= 15 * 60, `Retry-After ${retryAfter}`);
  });
});

describe('Current user', () => {
  it('When logged in, then /api/me gives user, instance and session times', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { client, username } = await registered(app);
    const res = await client.get('/api/me');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.user, { username });
    assert.equal(res.body.instance, 'in-process');
    assert.ok(Date.parse(res.body.session.createdAt) <= Date.now());
    assert.ok(Date.parse(res.body.session.expiresAt) > Date.now() + 29 * 24 * 3600_000);
  });

  it('When /api/me is read, then the stored session data does not change', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { client } = await registered(app);
    const sessJson = async () => (await app.pool.query('SELECT sess::text FROM session')).rows.map((r) => r.sess).sort();
    const before = await sessJson();
    for (let i = 0; i < 3; i++) assert.equal((await client.get('/api/me')).status, 200);
    const after = await sessJson();
    const strip = (rows: string[]) => rows.map((s) => JSON.stringify({ ...JSON.parse(s), cookie: undefined }));
    assert.deepEqual(strip(after), strip(before));
  });

  it('When there is no session, then 401 JSON carrying X-Instance', async (t) => {
    const app = await startApp(t, databaseUrl);
    const res = await new HttpClient(app.url).get('/api/me');
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, { error: 'not logged in' });
    assert.equal(res.headers.get('x-instance'), 'in-process');
  });

  it('When the session has expired in the store, then 401', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { client, username } = await registered(app);
    await app.pool.query(
      `UPDATE session SET expire = now() AT TIME ZONE 'UTC' - interval '1 second' WHERE sess->'user'->>'username' = $1`,
      [username],
    );
    assert.equal((await client.get('/api/me')).status, 401);
  });

  it('When the cookie is tampered, unknown, empty or garbage, then 401 and never 5xx', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { client } = await registered(app);
    const real = client.cookies.get('sid')!;
    const cookies = [
      `sid=${real.slice(0, -3)}abc`, // tampered signature
      `sid=${signedSessionCookie('unknown-session-id', TEST_SECRET)}`, // well signed, not in the store
      `sid=${signedSessionCookie(sessionIdOf(real), 'another secret that is long enough!!')}`, // wrong secret
      'sid=',
      'sid=%E0%A4%A',
      'sid=s%3A',
      `sid=${'x'.repeat(4000)}`,
      'sid=s:a.b; sid=s:c.d',
      'garbage',
      '=;;=',
    ];
    for (const cookie of cookies) {
      const res = await new HttpClient(app.url).get('/api/me', { cookie });
      assert.equal(res.status, 401, cookie.slice(0, 60));
    }
  });
});

describe('Cart', () => {
  it('When an item is posted with the CSRF token, then the cart has it', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { client } = await registered(app);
    assert.deepEqual((await client.get('/api/cart')).body, { cart: [] });
    assert.deepEqual((await client.post('/api/cart', { item: 'apple' })).body, { cart: ['apple'] });
    assert.deepEqual((await client.post('/api/cart', { item: 'pear' })).body, { cart: ['apple', 'pear'] });
    assert.deepEqual((await client.get('/api/cart')).body, { cart: ['apple', 'pear'] });
  });

  it('When the user logs out and in again, then the new session has the same cart: it belongs to the user, not the session', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { client, username } = await registered(app);
    assert.equal((await client.post('/api/cart', { item: 'apple' })).status, 200);
    assert.equal((await client.post('/api/logout')).status, 204);
    const again = new HttpClient(app.url);
    assert.equal((await again.post('/api/login', { username, password: PASSWORD })).status, 200);
    assert.deepEqual((await again.get('/api/cart')).body, { cart: ['apple'] });
    const other = await registered(app);
    assert.deepEqual((await other.client.get('/api/cart')).body, { cart: [] }, "another user's cart is its own");
  });

  it('When the CSRF token is missing or wrong, then 403 and the cart is unchanged', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { client } = await registered(app);
    const token = client.csrfToken;
    client.csrfToken = '';
    assert.equal((await client.post('/api/cart', { item: 'apple' })).status, 403);
    assert.equal((await client.post('/api/cart', { item: 'apple' }, { 'x-csrf-token': `${token}x` })).status, 403);
    assert.deepEqual((await client.get('/api/cart')).body, { cart: [] });
  });

  it('When not logged in, then 401', async (t) => {
    const app = await startApp(t, databaseUrl);
    assert.equal((await new HttpClient(app.url).get('/api/cart')).status, 401);
    assert.equal((await new HttpClient(app.url).post('/api/cart', { item: 'apple' })).status, 401);
  });

  it('When the body is too large, then 413 JSON', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { client } = await registered(app);
    const res = await client.post('/api/cart', { item: 'x'.repeat(20_000) });
    assert.equal(res.status, 413);
    assert.equal(typeof res.body.error, 'string');
  });

  it('When the item is invalid, then 400', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { client } = await registered(app);
    for (const body of [{}, { item: '' }, { item: 5 }, { item: 'x'.repeat(101) }]) {
      assert.equal((await client.post('/api/cart', body)).status, 400, JSON.stringify(body));
    }
  });
});

describe('Logout', () => {
  it('When logging out with the token, then 204, the cookie is cleared and the old cookie gets 401', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { client } = await registered(app);
    const old = client.sharingSessionWith(app.url);
    const res = await client.post('/api/logout');
    assert.equal(res.status, 204);
    assert.match(res.headers.getSetCookie()[0] ?? '', /^sid=;.*Expires=Thu, 01 Jan 1970/);
    assert.equal((await old.get('/api/me')).status, 401);
  });

  it('When logging out without the token, then 403 and the session stays', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { client } = await registered(app);
    assert.equal((await client.post('/api/logout', undefined, { 'x-csrf-token': 'nope' })).status, 403);
    assert.equal((await client.get('/api/me')).status, 200);
  });
});

describe('Operations endpoints', () => {
  it('When asked, then /healthz and /readyz are 200, and the metrics port answers Prometheus text with the instance label', async (t) => {
    const app = await startApp(t, databaseUrl);
    const client = new HttpClient(app.url);
    assert.equal((await client.get('/healthz')).status, 200);
    assert.deepEqual((await client.get('/readyz')).body, { status: 'ready' });
    await client.get('/api/me');
    const metrics = await new HttpClient(app.metricsUrl).get('/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type')!, /text\/plain/);
    const line = metrics.body
      .split('\n')
      .find((l: string) => l.startsWith('http_request_duration_seconds_count') && l.includes('route="/api/me"'));
    assert.ok(line, 'latency of /api/me is recorded by route');
    assert.match(line, /status="401"/);
    assert.match(line, /instance="in-process"/);
    assert.match(metrics.body, /pg_pool_total_connections\{instance="in-process"\}/);
  });

  it('When /metrics is asked on the app port, then it is a JSON 404 like any unknown path (metrics are private)', async (t) => {
    const app = await startApp(t, databaseUrl);
    const res = await new HttpClient(app.url).get('/metrics');
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, { error: 'not found' });
  });

  it('When the metrics port is asked anything but GET /metrics, then it answers a JSON 404 or 405', async (t) => {
    const app = await startApp(t, databaseUrl);
    const client = new HttpClient(app.metricsUrl);
    assert.deepEqual([(await client.get('/')).status, (await client.get('/api/me')).status], [404, 404]);
    assert.equal((await client.post('/metrics', {})).status, 405);
  });

  it('When the database cannot be reached, then /readyz is 503 and /healthz stays 200', async (t) => {
    const app = await startApp(t, 'postgres://nobody:wrong@127.0.0.1:1/nothing', { PG_CONNECT_TIMEOUT_MS: '500' });
    const client = new HttpClient(app.url);
    assert.equal((await client.get('/healthz')).status, 200);
    assert.equal((await client.get('/readyz')).status, 503);
    const me = await client.get('/api/me', { cookie: `sid=${signedSessionCookie('some-id', TEST_SECRET)}` });
    assert.equal(me.status, 503);
    assert.equal(typeof me.body.error, 'string');
  });

  it('When a route does not exist, then 404 JSON, and a malformed body is 400 JSON without a stack trace', async (t) => {
    const app = await startApp(t, databaseUrl);
    const res = await new HttpClient(app.url).get('/nope');
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, { error: 'not found' });
    const bad = await new HttpClient(app.url).post('/api/login', '{"a":');
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body, { error: 'malformed JSON body' });
  });

  it('When a route fails on a bug (its table is gone), then 500 JSON that says no more than "internal error"', async (t) => {
    const ownDatabase = await migratedDatabase();
    const app = await startApp(t, ownDatabase);
    const client = new HttpClient(app.url);
    assert.equal((await client.post('/api/register', { username: uniqueName(), password: PASSWORD })).status, 201);
    const admin = new pg.Client({ connectionString: ownDatabase });
    await admin.connect();
    try {
      await admin.query('DROP TABLE cart_items');
    } finally {
      await admin.end();
    }
    const res = await client.get('/api/cart');
    assert.equal(res.status, 500);
    // Nothing of the error itself (message, SQL, stack) reaches the client.
    assert.deepEqual(res.body, { error: 'internal error' });
  });

  it('When the page is asked for, then it is served with security headers', async (t) => {
    const app = await startApp(t, databaseUrl);
    const res = await new HttpClient(app.url).get('/');
    assert.equal(res.status, 200);
    assert.match(res.body, /Shared Postgres sessions/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.match(res.headers.get('content-security-policy')!, /script-src 'self'/);
  });
});
