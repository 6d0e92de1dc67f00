/**
 * OAuth 2.0 account connections across replica processes, against a local provider (infra/connections-mock.ts,
 * oauth2-mock-server). The test plays the browser: it follows each redirect by hand and chooses which replica the
 * callback reaches. This is the seeds' "verify OAuth flows still work (Garmin, Foursquare, Strava)" with Postgres sessions.
 */
import { describe, it, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../infra/ports.js';
import { startReplica, waitForReady, type ReplicaProcess } from '../../infra/replica.js';
import { startConnectionsMock, type ConnectionsMock } from '../../infra/connections-mock.js';
import { createTokenCipher, keyIdOf } from '../../app/connections/token-cipher.js';
import { startApp } from '../helpers/app-instance.js';
import { HttpClient, PASSWORD, uniqueName } from '../helpers/http-client.js';
import { sessionIdOf } from '../helpers/cookies.js';
import { migratedDatabase } from '../helpers/database.js';
import { replicaEnv } from '../helpers/replicas.js';

// The site's public origin: in a deployment nginx, which hands the callback to any replica.
const BASE_URL = 'https://app.example.test';
// Made per run: the replicas run in production mode, which refuses keys written in the repository.
const OLD_KEY = randomBytes(32);
const NEW_KEY = randomBytes(32);

let mock: ConnectionsMock;
let databaseUrl: string;
let db: pg.Pool;
let logFile: string;
let a: ReplicaProcess, b: ReplicaProcess, c: ReplicaProcess; // CONNECTIONS_KEY=NEW,OLD; c logs at trace level
let oldOnly: ReplicaProcess; // CONNECTIONS_KEY=OLD: a replica from before the rotation

before(async () => {
  mock = await startConnectionsMock();
  databaseUrl = await migratedDatabase();
  db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  logFile = join(mkdtempSync(join(tmpdir(), 'connections-')), 'replica.log');
  const keys = (...list: Buffer[]) => list.map((k) => k.toString('base64')).join(',');
  const start = async (key: string, extra: NodeJS.ProcessEnv = {}, log?: string) =>
    startReplica({
      port: await freePort(),
      logFile: log,
      env: replicaEnv(databaseUrl, { PASSWORD_SCRYPT_COST: '1024', ...mock.env(BASE_URL), CONNECTIONS_KEY: key, ...extra }),
    });
  [a, b, c, oldOnly] = await Promise.all([
    start(keys(NEW_KEY, OLD_KEY)),
    start(keys(NEW_KEY, OLD_KEY)),
    start(keys(NEW_KEY, OLD_KEY), { LOG_LEVEL: 'trace' }, logFile),
    start(keys(OLD_KEY)),
  ]);
  await Promise.all([a, b, c, oldOnly].map((r) => waitForReady(r)));
});
after(async () => {
  await Promise.all([a, b, c, oldOnly].filter(Boolean).map((r) => r.stop('SIGKILL')));
  await mock?.stop();
  await db?.end();
});

/** A replica process or an in-process app: where requests go. */
type Site = { url: string };

const get = (url: string, cookie?: string) => fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });

async function signedIn(replica: ReplicaProcess): Promise<HttpClient> {
  const client = new HttpClient(replica.url);
  assert.equal((await client.post('/api/register', { username: uniqueName('conn'), password: PASSWORD })).status, 201);
  return client;
}

/** GET /api/connections/mock/start on `replica`: the provider URL it redirects to. */
async function begin(replica: Site, user: HttpClient, provider = 'mock'): Promise<URL> {
  const res = await get(`${replica.url}/api/connections/${provider}/start`, user.cookieHeader);
  assert.equal(res.status, 302, await res.text());
  return new URL(res.headers.get('location')!);
}

/** The browser at the provider, which agrees and sends it back: the callback URL with code and state. */
async function atProvider(authorizeUrl: URL): Promise<URL> {
  const res = await get(authorizeUrl.href);
  assert.equal(res.status, 302);
  return new URL(res.headers.get('location')!);
}

/** Delivers the callback to `replica`, as nginx would. */
const callback = (replica: Site, callbackUrl: URL, user: HttpClient) =>
  get(`${replica.url}${callbackUrl.pathname}${callbackUrl.search}`, user.cookieHeader);

async function connect(startOn: ReplicaProcess, returnTo: ReplicaProcess, user: HttpClient): Promise<void> {
  const res = await callback(returnTo, await atProvider(await begin(startOn, user)), user);
  assert.equal(res.status, 302, await res.text());
  assert.equal(res.headers.get('location'), '/?connection=mock&result=connected');
}

const connections = async (replica: ReplicaProcess, user: HttpClient) =>
  (await user.sharingSessionWith(replica.url).get('/api/connections')).body;
const refresh = (replica: ReplicaProcess, user: HttpClient) => user.sharingSessionWith(replica.url).post('/api/connections/mock/refresh');
const userIdOf = async (user: HttpClient) =>
  String((await db.query('SELECT sess FROM session WHERE sid = $1', [sessionIdOf(user.cookies.get('sid')!)])).rows[0].sess.user.id);
const pendingOf = async (user: HttpClient) =>
  (await db.query('SELECT sess FROM session WHERE sid = $1', [sessionIdOf(user.cookies.get('sid')!)])).rows[0].sess.connections;
const row = async (user: HttpClient) =>
  (await db.query('SELECT * FROM account_connections WHERE user_id = $1', [await userIdOf(user)])).rows[0];
const expire = async (user: HttpClient) =>
  db.query("UPDATE account_connections SET expires_at = now() - interval '1 minute' WHERE user_id = $1", [await userIdOf(user)]);

describe('Account connections across replicas', () => {
  it('When a connection starts on replica A and the provider sends the browser back to replica B, then it is connected on A, B and C, and no answer holds a token', async () => {
    const user = await signedIn(a);
    const authorizeUrl = await begin(a, user);
    assert.equal(authorizeUrl.origin, mock.url);
    const params = authorizeUrl.searchParams;
    assert.equal(params.get('response_type'), 'code');
    assert.equal(params.get('code_challenge_method'), 'S256');
    assert.match(params.get('code_challenge')!, /^[\w-]{43}$/);
    assert.equal(params.get('code_verifier'), null, 'the verifier never leaves the server');
    assert.equal(params.get('redirect_uri'), `${BASE_URL}/api/connections/mock/callback`);
    assert.equal(params.get('scope'), 'activity:read profile');
    // State and verifier wait in the shared session table, which is what lets B finish what A started.
    const [pending] = await pendingOf(user);
    assert.deepEqual(Object.keys(pending).sort(), ['codeVerifier', 'expiresAt', 'provider', 'state']);
    assert.equal(pending.state, params.get('state'));

    const res = await callback(b, await atProvider(authorizeUrl), user);
    assert.equal(res.status, 302, await res.text());
    assert.equal(res.headers.get('location'), '/?connection=mock&result=connected');
    assert.equal(await pendingOf(user), undefined, 'the pending connection is used up');
    const issued = mock.issued.at(-1)!;
    for (const replica of [a, b, c]) {
      const body = await connections(replica, user);
      assert.deepEqual(body.providers, [{ name: 'mock', label: 'Mock provider', startUrl: '/api/connections/mock/start' }]);
      assert.equal(body.connections.length, 1);
      const [connection] = body.connections;
      assert.deepEqual(
        { ...connection, connectedAt: 'x', expiresAt: 'x' },
        { provider: 'mock', connectedAt: 'x', scopes: ['activity:read', 'profile'], expiresAt: 'x', status: 'valid' },
      );
      assert.ok(Date.parse(connection.expiresAt) > Date.now(), 'the provider gave an hour');
      assert.ok(!JSON.stringify(body).includes(issued.accessToken) && !JSON.stringify(body).includes(issued.refreshToken!));
    }
  });

  it("When the state is forged, missing, another session's or replayed, then 400 JSON and nothing is connected", async () => {
    const user = await signedIn(a);
    const callbackUrl = await atProvider(await begin(a, user));
    const forged = new URL(callbackUrl);
    forged.searchParams.set('state', 'forged-state');
    const missing = new URL(callbackUrl);
    missing.searchParams.delete('state');
    const noConnection = { error: 'no connection to mock in progress for this state: start again at /api/connections/mock/start' };
    for (const [label, url] of [
      ['forged', forged],
      ['missing', missing],
    ] as const) {
      const res = await callback(b, url, user);
      assert.equal(res.status, 400, label);
      assert.deepEqual(await res.json(), noConnection, label);
    }
    // An attacker's own callback (code and state of the attacker's session) sent to a victim's browser connects nothing.
    const victim = await signedIn(b);
    const res = await callback(c, callbackUrl, victim);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), noConnection);
    assert.deepEqual((await connections(a, victim)).connections, []);
    assert.deepEqual((await connections(a, user)).connections, [], 'nothing connected by the refused callbacks');

    assert.equal((await callback(c, callbackUrl, user)).status, 302, 'the genuine callback still works once');
    const replayed = await callback(a, callbackUrl, user);
    assert.equal(replayed.status, 400);
    assert.deepEqual(await replayed.json(), noConnection);
    assert.equal((await connections(b, user)).connections.length, 1);
  });

  it('When a pending connection is older than ten minutes, then its callback is 400 "expired"; a session keeps at most three pending', async () => {
    const user = await signedIn(a);
    const urls = [];
    for (let i = 0; i < 4; i++) urls.push(await atProvider(await begin([a, b, c][i % 3]!, user)));
    assert.equal((await pendingOf(user)).length, 3, 'the oldest was dropped');
    assert.equal((await callback(b, urls[0]!, user)).status, 400, 'the dropped one');
    await db.query(`UPDATE session SET sess = jsonb_set(sess::jsonb, '{connections,0,expiresAt}', '0')::json WHERE sid = $1`, [
      sessionIdOf(user.cookies.get('sid')!),
    ]);
    const res = await callback(c, urls[1]!, user);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { error: 'this connection attempt expired: start again at /api/connections/mock/start' });
    assert.deepEqual((await connections(a, user)).connections, []);
  });

  it('When the user refuses at the provider, then the browser goes back to the page with the reason, and nothing is connected', async () => {
    const user = await signedIn(a);
    const refused = new URL(`${BASE_URL}/api/connections/mock/callback`);
    refused.search = new URLSearchParams({ error: 'access_denied', state: (await begin(a, user)).searchParams.get('state')! }).toString();
    const res = await callback(b, refused, user);
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/?connection=mock&result=access_denied');
    assert.deepEqual((await connections(c, user)).connections, []);
  });

  it('When the access token has expired, then a refresh on any replica uses the stored refresh token once, even when three replicas refresh at once', async () => {
    const user = await signedIn(a);
    await connect(a, b, user);
    const first = mock.issued.at(-1)!;
    assert.deepEqual(
      (await refresh(c, user)).body,
      { refreshed: false, connection: (await connections(c, user)).connections[0] },
      'still valid: no provider call',
    );
    await expire(user);
    assert.equal((await connections(a, user)).connections[0].status, 'expired');
    const grants = mock.refreshGrants.length;
    const results = await Promise.all([a, b, c].map((replica) => refresh(replica, user)));
    assert.deepEqual(
      results.map((r) => r.status),
      [200, 200, 200],
    );
    assert.equal(results.filter((r) => r.body.refreshed).length, 1, 'the others found it refreshed (row lock)');
    assert.deepEqual(
      mock.refreshGrants.slice(grants),
      [first.refreshToken],
      'one refresh_token grant, with the token issued at connection',
    );
    for (const replica of [a, b, c]) assert.equal((await connections(replica, user)).connections[0].status, 'valid');
    // The rotated refresh token is the one used next time.
    await expire(user);
    assert.equal((await refresh(b, user)).body.refreshed, true);
    assert.equal(mock.refreshGrants.at(-1), mock.issued.at(-2)!.refreshToken);
  });

  it('When the provider refuses the refresh, then 409 naming it, the connection needs reconnecting on every replica, and connecting again clears that', async (t: TestContext) => {
    const user = await signedIn(a);
    await connect(b, c, user);
    await expire(user);
    mock.refuseRefresh = true;
    t.after(() => void (mock.refuseRefresh = false));
    const res = await refresh(a, user);
    assert.equal(res.status, 409);
    assert.deepEqual(res.body, { error: 'the provider refused the refresh: invalid_grant: connect again at /api/connections/mock/start' });
    for (const replica of [a, b, c]) assert.equal((await connections(replica, user)).connections[0].status, 'needs-reconnect');
    mock.refuseRefresh = false;
    assert.equal((await refresh(b, user)).status, 409, 'no second try with a refused token');
    await connect(c, a, user);
    assert.equal((await connections(b, user)).connections[0].status, 'valid');
  });

  it('When tokens are stored, then the table holds ciphertext only; a row made under the old key opens with NEW,OLD and is re-encrypted under NEW by its next refresh', async () => {
    const user = await signedIn(oldOnly);
    await connect(oldOnly, oldOnly, user);
    const issued = mock.issued.at(-1)!;
    const stored = await row(user);
    assert.equal(stored.key_id, keyIdOf(OLD_KEY));
    for (const column of ['access_token', 'refresh_token']) {
      const raw = stored[column] as Buffer;
      for (const token of [issued.accessToken, issued.refreshToken!]) {
        assert.ok(
          !raw.includes(token) &&
            !raw.toString('base64').includes(token) &&
            !raw.toString('hex').includes(Buffer.from(token).toString('hex')),
          `${column} holds a token in the clear`,
        );
      }
    }
    const id = await userIdOf(user);
    const rotated = createTokenCipher([NEW_KEY, OLD_KEY]);
    assert.equal(rotated.decrypt(stored.key_id, stored.access_token, `${id}/mock/access`), issued.accessToken);
    assert.throws(() => rotated.decrypt(stored.key_id, stored.access_token, `${id}/mock/refresh`), 'bound to its column');
    assert.throws(
      () => createTokenCipher([NEW_KEY]).decrypt(stored.key_id, stored.access_token, `${id}/mock/access`),
      'NEW alone cannot open it',
    );

    await expire(user);
    const res = await refresh(a, user); // NEW,OLD: opens the OLD row, writes under NEW
    assert.equal(res.status, 200);
    assert.equal(mock.refreshGrants.at(-1), issued.refreshToken);
    const after = await row(user);
    assert.equal(after.key_id, keyIdOf(NEW_KEY));
    assert.equal(rotated.decrypt(after.key_id, after.access_token, `${id}/mock/access`), mock.issued.at(-1)!.accessToken);
    // The replica that only knows OLD cannot use it any more: it says so instead of failing.
    await expire(user);
    const stale = await refresh(oldOnly, user);
    assert.equal(stale.status, 409);
    assert.match(stale.body.error, /cannot be decrypted with CONNECTIONS_KEY/);
  });

  it('When the provider gives a bare {access_token} (Foursquare), then it is connected without expiry, and a refresh has nothing to do', async (t: TestContext) => {
    mock.bareTokens = true;
    t.after(() => void (mock.bareTokens = false));
    const user = await signedIn(a);
    await connect(a, c, user);
    const [connection] = (await connections(b, user)).connections;
    assert.equal(connection.expiresAt, null);
    assert.equal(connection.status, 'valid');
    assert.deepEqual(connection.scopes, ['activity:read', 'profile'], 'the requested scopes when the provider names none');
    assert.equal((await refresh(c, user)).body.refreshed, false);
  });

  it('When a connection is removed, then it needs the CSRF token, and is gone on every replica', async () => {
    const user = await signedIn(a);
    await connect(a, b, user);
    const remove = (replica: ReplicaProcess, headers?: Record<string, string>) =>
      user.sharingSessionWith(replica.url).request('DELETE', '/api/connections/mock', undefined, headers);
    for (const token of ['', 'wrong']) {
      const res = await remove(b, { 'x-csrf-token': token });
      assert.equal(res.status, 403);
      assert.deepEqual(res.body, { error: 'missing or invalid X-CSRF-Token' });
    }
    assert.equal((await connections(c, user)).connections.length, 1, 'still connected');
    assert.equal((await remove(c)).status, 204);
    for (const replica of [a, b, c]) assert.deepEqual((await connections(replica, user)).connections, []);
    assert.equal(await row(user), undefined, 'the tokens are deleted');
    assert.deepEqual((await remove(a)).body, { error: 'not connected to mock' });
  });

  it('When the provider is unknown or the user is not signed in, then a JSON 404 or 401, never a 5xx', async () => {
    const user = await signedIn(a);
    const as = user.sharingSessionWith(b.url);
    for (const res of [
      await as.get('/api/connections/strava/start'),
      await as.get('/api/connections/nope/callback?code=x&state=y'),
      await as.post('/api/connections/MOCK/refresh'),
      await as.request('DELETE', '/api/connections/garmin'),
    ]) {
      assert.equal(res.status, 404);
      assert.deepEqual(res.body, { error: 'unknown provider' });
    }
    for (const path of ['/api/connections', '/api/connections/mock/start', '/api/connections/mock/callback?code=x&state=y']) {
      const res = await get(`${c.url}${path}`);
      assert.equal(res.status, 401, path);
      assert.deepEqual(await res.json(), { error: 'not logged in' });
    }
  });

  it('When the provider is down or does not answer in time, then 503 JSON with Retry-After, and nothing is marked', async (t: TestContext) => {
    const user = await signedIn(a);
    await connect(a, b, user);
    await expire(user);
    const key = [NEW_KEY, OLD_KEY].map((k) => k.toString('base64')).join(',');
    const hang = await hangingServer(t);
    const down = await startApp(t, databaseUrl, {
      ...mock.env(BASE_URL),
      CONNECTIONS_KEY: key,
      CONNECTIONS_MOCK_TOKEN_URL: `http://127.0.0.1:${await freePort()}/token`,
    });
    const slow = await startApp(t, databaseUrl, {
      ...mock.env(BASE_URL),
      CONNECTIONS_KEY: key,
      CONNECTIONS_MOCK_TOKEN_URL: `${hang}/token`,
      CONNECTIONS_TIMEOUT_MS: '500',
    });
    for (const app of [down, slow]) {
      const as = user.sharingSessionWith(app.url);
      const started = Date.now();
      const res = await as.post('/api/connections/mock/refresh');
      assert.equal(res.status, 503, app.url);
      assert.deepEqual(res.body, { error: 'Mock provider cannot be reached, try again shortly' });
      assert.equal(res.headers.get('retry-after'), '5');
      assert.ok(Date.now() - started < 3_000, 'the timeout holds');
      const callbackUrl = await atProvider(await begin(app, user));
      const connecting = await callback(app, callbackUrl, user);
      assert.equal(connecting.status, 503);
      assert.equal(connecting.headers.get('retry-after'), '5');
    }
    assert.equal((await connections(c, user)).connections[0].status, 'expired', 'an outage is not a refusal: no reconnect needed');
    assert.equal((await refresh(c, user)).body.refreshed, true, 'and the next refresh with the provider back works');
  });

  it('When all of the above ran through replica C at trace level, then its log holds no token, code, state, client secret or key', async () => {
    const text = readFileSync(logFile, 'utf8');
    assert.match(text, /\/api\/connections\/mock\/callback\?code=\[redacted\]&state=\[redacted\]/, 'callbacks were logged, redacted');
    const secrets = [
      ...mock.issued.flatMap((i) => [i.accessToken, i.refreshToken]),
      ...mock.refreshGrants,
      mock.env(BASE_URL).CONNECTIONS_MOCK_CLIENT_SECRET,
      NEW_KEY.toString('base64'),
      OLD_KEY.toString('base64'),
    ];
    for (const secret of secrets.filter((s): s is string => Boolean(s)))
      assert.ok(!text.includes(secret), `the log holds ${secret.slice(0, 8)}…`);
  });
});

/** A server that accepts connections and never answers: a provider that hangs. */
async function hangingServer(t: TestContext): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => void sockets.add(socket.on('error', () => {})));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}
