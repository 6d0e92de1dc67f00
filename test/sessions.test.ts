/** Sessions users can see and end, and the password change: the HTTP contract on one replica, against a real PostgreSQL. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startApp, type AppInstance } from './helpers/app-instance.js';
import { generatedSecret } from '../infra/replica-env.js';
import { HttpClient, PASSWORD, uniqueName } from './helpers/http-client.js';
import { migratedDatabase } from './helpers/database.js';
import { sessionIdOf } from './helpers/cookies.js';

const FIREFOX_ON_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0';
const NEW_PASSWORD = generatedSecret(); // generated: production refuses every value written in the repository

let databaseUrl: string;
let admin: pg.Client;
before(async () => {
  databaseUrl = await migratedDatabase();
  admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
});
after(() => admin?.end());

const passwordHash = async (username: string) =>
  (await admin.query('SELECT password_hash FROM users WHERE username = $1', [username])).rows[0].password_hash;

/** One user signed in from `count` browsers: the first registered, the others logged in with Firefox on Windows. */
async function signedInTwice(app: AppInstance, count = 2): Promise<{ username: string; clients: HttpClient[] }> {
  const username = uniqueName('sessions');
  const first = new HttpClient(app.url);
  assert.equal((await first.post('/api/register', { username, password: PASSWORD }, { 'user-agent': 'curl/8.5.0' })).status, 201);
  const clients = [first];
  for (let i = 1; i < count; i++) {
    const other = new HttpClient(app.url);
    assert.equal((await other.post('/api/login', { username, password: PASSWORD }, { 'user-agent': FIREFOX_ON_WINDOWS })).status, 200);
    clients.push(other);
  }
  return { username, clients };
}

const sidOf = (client: HttpClient) => sessionIdOf(client.cookies.get('sid')!);
const handles = async (client: HttpClient): Promise<{ handle: string; current: boolean }[]> =>
  (await client.get('/api/sessions')).body.sessions;
const otherHandle = async (client: HttpClient) => (await handles(client)).find((s) => !s.current)!.handle;
const del = (client: HttpClient, handle: string, headers?: Record<string, string>) =>
  client.request('DELETE', `/api/sessions/${handle}`, undefined, headers);

describe('Listing sessions', () => {
  it('When a user is signed in from two browsers, then GET /api/sessions lists both with an opaque handle, times, the device in short and which one is this', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { clients } = await signedInTwice(app);
    const res = await clients[0]!.get('/api/sessions');
    assert.equal(res.status, 200);
    const sessions = res.body.sessions as Record<string, unknown>[];
    assert.equal(sessions.length, 2);
    const byDevice = Object.fromEntries(sessions.map((s) => [s.device, s]));
    assert.deepEqual(Object.keys(byDevice).sort(), ['Firefox on Windows', 'curl']);
    assert.equal(byDevice.curl!.current, true);
    assert.equal(byDevice['Firefox on Windows']!.current, false);
    for (const session of sessions) {
      assert.deepEqual(Object.keys(session).sort(), ['createdAt', 'current', 'device', 'expiresAt', 'handle', 'lastActiveAt']);
      assert.match(String(session.handle), /^[\w-]{22}$/);
      for (const client of clients)
        assert.ok(
          !String(session.handle).includes(sidOf(client)) && !sidOf(client).includes(String(session.handle)),
          'never the session id',
        );
      for (const time of [session.createdAt, session.lastActiveAt, session.expiresAt])
        assert.ok(Math.abs(Date.parse(String(time)) - Date.now()) < 31 * 24 * 3600_000);
      assert.ok(Math.abs(Date.parse(String(session.lastActiveAt)) - Date.now()) < 60_000, 'last active: just now');
    }
    assert.deepEqual((await new HttpClient(app.url).get('/api/sessions')).status, 401);
  });

  it('When another user lists their sessions, then they see only their own', async (t) => {
    const app = await startApp(t, databaseUrl);
    await signedInTwice(app);
    const { clients } = await signedInTwice(app, 1);
    assert.equal((await handles(clients[0]!)).length, 1);
  });
});

describe('Ending sessions', () => {
  it('When a user ends another of their sessions by its handle, then 204 and that session gets 401 while this one stays', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { clients } = await signedInTwice(app, 3);
    const [me, ended, kept] = clients as [HttpClient, HttpClient, HttpClient];
    const target = (await handles(ended)).find((s) => s.current)!.handle;
    assert.equal((await del(me, target)).status, 204);
    assert.equal((await ended.get('/api/me')).status, 401);
    assert.equal((await me.get('/api/me')).status, 200);
    assert.equal((await kept.get('/api/me')).status, 200);
    assert.equal((await del(me, target)).status, 404, 'ended already');
  });

  it("When a handle is unknown, malformed or another user's, then 404 JSON and nothing ends; without the CSRF token 403; signed out 401", async (t) => {
    const app = await startApp(t, databaseUrl);
    const { clients: mine } = await signedInTwice(app);
    const { clients: theirs } = await signedInTwice(app, 1);
    const theirHandle = (await handles(theirs[0]!))[0]!.handle;
    for (const handle of [theirHandle, 'A'.repeat(22), 'x', encodeURIComponent('../../me'), '%E0%A4%A', sidOf(theirs[0]!)]) {
      const res = await del(mine[0]!, handle);
      assert.ok(res.status === 404 || res.status === 400, `${handle}: ${res.status}`);
      assert.equal(typeof res.body.error, 'string');
    }
    assert.equal((await del(mine[0]!, theirHandle)).status, 404);
    assert.equal((await theirs[0]!.get('/api/me')).status, 200, 'the other user is still signed in');
    assert.equal((await del(mine[0]!, await otherHandle(mine[0]!), { 'x-csrf-token': 'wrong' })).status, 403);
    assert.equal((await new HttpClient(app.url).request('POST', '/api/sessions/end-others')).status, 401);
    assert.equal((await mine[0]!.post('/api/sessions/end-others', undefined, { 'x-csrf-token': '' })).status, 403);
    assert.equal((await mine[1]!.get('/api/me')).status, 200, 'nothing ended');
  });

  it('When a user ends the current session by its handle, then it is a logout: 204, the cookie cleared, 401 afterwards', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { clients } = await signedInTwice(app);
    const [me, other] = clients as [HttpClient, HttpClient];
    const cookie = me.cookieHeader;
    const res = await del(me, (await handles(me)).find((s) => s.current)!.handle);
    assert.equal(res.status, 204);
    assert.match(res.headers.getSetCookie().join(), /sid=;.*Expires=Thu, 01 Jan 1970/);
    assert.equal((await new HttpClient(app.url).get('/api/me', { cookie })).status, 401);
    assert.equal((await other.get('/api/me')).status, 200);
  });

  it('When a user logs out other devices, then every other session gets 401, this one stays, and the answer counts them', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { clients } = await signedInTwice(app, 3);
    const [me, ...others] = clients as [HttpClient, ...HttpClient[]];
    const res = await me.post('/api/sessions/end-others');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { ended: 2 });
    for (const other of others) assert.equal((await other.get('/api/me')).status, 401);
    assert.equal((await me.get('/api/me')).status, 200);
    assert.equal((await handles(me)).length, 1);
  });
});

describe('Changing the password', () => {
  it('When the current password is right, then the password changes, every other session ends and this one continues under a new id', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { username, clients } = await signedInTwice(app, 3);
    const [me, ...others] = clients as [HttpClient, ...HttpClient[]];
    const oldCookie = me.cookieHeader;
    const oldToken = me.csrfToken;
    const res = await me.post('/api/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual({ ...res.body, csrfToken: undefined }, { user: { username }, csrfToken: undefined, endedSessions: 2 });
    assert.notEqual(me.csrfToken, oldToken, 'a new CSRF token with the new session');
    assert.notEqual(me.cookieHeader, oldCookie, 'a new session id');
    assert.equal((await me.get('/api/me')).status, 200, 'still signed in');
    assert.equal((await me.post('/api/cart', { item: 'after the change' })).status, 200, 'the new token works');
    assert.equal((await new HttpClient(app.url).get('/api/me', { cookie: oldCookie })).status, 401, 'the old id is gone');
    for (const other of others) assert.equal((await other.get('/api/me')).status, 401);
    assert.equal((await new HttpClient(app.url).post('/api/login', { username, password: PASSWORD })).status, 401);
    assert.equal((await new HttpClient(app.url).post('/api/login', { username, password: NEW_PASSWORD })).status, 200);
  });

  it('When the current password is wrong or the new one breaks the rules, then 403 or 400 JSON and nothing changes; repeated wrong guesses are throttled with 429', async (t) => {
    const app = await startApp(t, databaseUrl, { LOGIN_MAX_FAILURES_PER_USER: '2' });
    const { username, clients } = await signedInTwice(app);
    const [me, other] = clients as [HttpClient, HttpClient];
    const hashBefore = await passwordHash(username);
    for (const body of [
      {},
      { currentPassword: PASSWORD },
      { currentPassword: PASSWORD, newPassword: 'short' },
      { currentPassword: PASSWORD, newPassword: 'x'.repeat(201) },
      { currentPassword: 1, newPassword: NEW_PASSWORD },
    ]) {
      const res = await me.post('/api/password', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(typeof res.body.error, 'string');
    }
    assert.equal(
      (await me.post('/api/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, { 'x-csrf-token': 'nope' })).status,
      403,
    );
    const wrong = await me.post('/api/password', { currentPassword: 'not the password', newPassword: NEW_PASSWORD });
    assert.equal(wrong.status, 403);
    assert.deepEqual(wrong.body, { error: 'wrong current password' });
    assert.equal((await me.post('/api/password', { currentPassword: 'still not it', newPassword: NEW_PASSWORD })).status, 403);
    const throttled = await me.post('/api/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
    assert.equal(throttled.status, 429);
    assert.match(throttled.headers.get('retry-after') ?? '', /^\d+$/);
    assert.equal((await other.get('/api/me')).status, 200, 'no session ended');
    assert.equal(await passwordHash(username), hashBefore, 'password unchanged');
    assert.equal(
      (await new HttpClient(app.url).post('/api/login', { username, password: PASSWORD })).status,
      429,
      "login's own counter for this name",
    );
  });

  it('When the account signs in through an OpenID Connect provider only, then 409 JSON saying it has no password', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { username, clients } = await signedInTwice(app, 1);
    await admin.query(
      `INSERT INTO user_identities (issuer, subject, user_id) SELECT 'https://issuer.example', $1, id FROM users WHERE username = $1`,
      [username],
    );
    const res = await clients[0]!.post('/api/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
    assert.equal(res.status, 409);
    assert.match(res.body.error, /identity provider and has no password/);
  });

  it('When the current session was ended while the change was on its way, then 401 and the password stays', async (t) => {
    const app = await startApp(t, databaseUrl);
    const { username, clients } = await signedInTwice(app);
    const [me, other] = clients as [HttpClient, HttpClient];
    // The other device ends this one; this request still carries its cookie and token, as one in flight would.
    const stale = me.sharingSessionWith(app.url);
    assert.equal((await other.post('/api/sessions/end-others')).status, 200);
    const res = await stale.post('/api/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
    assert.equal(res.status, 401);
    assert.equal((await new HttpClient(app.url).post('/api/login', { username, password: PASSWORD })).status, 200);
  });
});
