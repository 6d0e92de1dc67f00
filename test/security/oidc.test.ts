/**
 * OpenID Connect sign-in across replicas, against a local provider (oauth2-mock-server) and real replica processes.
 * The test plays the browser: it follows each redirect by hand and chooses which replica the callback reaches.
 */
import { describe, it, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { freePort } from '../../infra/ports.js';
import { startReplica, waitForReady, type ReplicaProcess } from '../../infra/replica.js';
import { startOidcMock, type OidcMock } from '../../infra/oidc-mock.js';
import { loadConfig } from '../../app/config.js';
import { startApp } from '../helpers/app-instance.js';
import { HttpClient, PASSWORD, uniqueName } from '../helpers/http-client.js';
import { migratedDatabase } from '../helpers/database.js';
import { replicaEnv } from '../helpers/replicas.js';

// Where the provider sends the browser back: in a deployment nginx, which hands it to any replica.
const REDIRECT_URL = 'https://app.example.test/api/oidc/callback';

let mock: OidcMock;
let databaseUrl: string;
let db: pg.Pool;
let shared: ReplicaProcess[]; // three replicas on the PostgreSQL session store
let memory: ReplicaProcess[]; // two replicas with SESSION_STORE=memory

before(async () => {
  mock = await startOidcMock();
  databaseUrl = await migratedDatabase();
  db = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  const start = async (extra: NodeJS.ProcessEnv) =>
    startReplica({
      port: await freePort(),
      env: replicaEnv(databaseUrl, { PASSWORD_SCRYPT_COST: '1024', ...mock.env(REDIRECT_URL), ...extra }),
    });
  const memoryEnv = { NODE_ENV: 'development', SESSION_STORE: 'memory' };
  const all = await Promise.all([start({}), start({}), start({}), start(memoryEnv), start(memoryEnv)]);
  shared = all.slice(0, 3);
  memory = all.slice(3);
  await Promise.all(all.map((r) => waitForReady(r)));
});
after(async () => {
  await Promise.all([...(shared ?? []), ...(memory ?? [])].map((r) => r.stop('SIGKILL')));
  await mock?.stop();
  await db?.end();
});

/** The session cookie (`sid=...`) a response sets, if any. */
const setCookie = (res: Response) =>
  res.headers
    .getSetCookie()
    .find((c) => c.startsWith('sid='))
    ?.split(';')[0];
const get = (url: string, cookie?: string) => fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });

/** GET /api/oidc/login on `replica`: the provider URL it redirects to and the cookie of the pending sign-in. */
async function begin(replica: ReplicaProcess): Promise<{ authorizeUrl: URL; cookie: string }> {
  const res = await get(`${replica.url}/api/oidc/login`);
  assert.equal(res.status, 302);
  const cookie = setCookie(res);
  assert.ok(cookie, 'the pending sign-in lives in a session');
  return { authorizeUrl: new URL(res.headers.get('location')!), cookie };
}

/** The browser at the provider, which signs it in and sends it back: the callback URL with code and state. */
async function atProvider(authorizeUrl: URL): Promise<URL> {
  const res = await get(authorizeUrl.href);
  assert.equal(res.status, 302);
  return new URL(res.headers.get('location')!);
}

/** Delivers the callback to `replica`, as nginx would. */
const callback = (replica: ReplicaProcess, callbackUrl: URL, cookie?: string) =>
  get(`${replica.url}${callbackUrl.pathname}${callbackUrl.search}`, cookie);

async function signIn(startOn: ReplicaProcess, returnTo: ReplicaProcess): Promise<string> {
  const { authorizeUrl, cookie } = await begin(startOn);
  const res = await callback(returnTo, await atProvider(authorizeUrl), cookie);
  assert.equal(res.status, 302, await res.text());
  assert.equal(res.headers.get('location'), '/');
  return setCookie(res)!;
}

async function me(replica: ReplicaProcess, cookie: string): Promise<{ status: number; body: any }> {
  const res = await get(`${replica.url}/api/me`, cookie);
  return { status: res.status, body: await res.json() };
}

const sessionRows = async (cookie: string) => {
  const sid = /^sid=s%3A([^.]+)\./.exec(cookie)![1]!;
  return (await db.query('SELECT sess FROM session WHERE sid = $1', [decodeURIComponent(sid)])).rows;
};

describe('OIDC sign-in across replicas', () => {
  it('When sign-in starts on replica A and the provider sends the browser back to replica B, then the user is signed in on A, B and C', async () => {
    const sub = uniqueName('sub');
    const name = uniqueName('oidc');
    mock.signInAs({ sub, preferred_username: name });
    const [a, b, c] = shared;

    const { authorizeUrl, cookie: pendingCookie } = await begin(a!);
    assert.equal(authorizeUrl.origin, mock.issuerUrl);
    const params = authorizeUrl.searchParams;
    assert.equal(params.get('response_type'), 'code');
    assert.equal(params.get('code_challenge_method'), 'S256');
    assert.match(params.get('code_challenge')!, /^[\w-]{43}$/);
    assert.equal(params.get('code_verifier'), null, 'the verifier never leaves the server');
    assert.equal(params.get('redirect_uri'), REDIRECT_URL);
    // State, nonce and verifier wait in the shared session table, which is what lets B finish what A started.
    const [pending] = await sessionRows(pendingCookie);
    assert.deepEqual(Object.keys(pending.sess.oidc).sort(), ['codeVerifier', 'nonce', 'state']);
    assert.equal(pending.sess.oidc.state, params.get('state'));
    assert.equal(pending.sess.oidc.nonce, params.get('nonce'));

    const res = await callback(b!, await atProvider(authorizeUrl), pendingCookie);
    assert.equal(res.status, 302, await res.text());
    assert.equal(res.headers.get('location'), '/');
    const cookie = setCookie(res)!;
    assert.notEqual(cookie, pendingCookie, 'a new session id after sign-in');
    assert.deepEqual(await sessionRows(pendingCookie), [], 'the pre-sign-in session is destroyed');

    for (const replica of [a!, b!, c!]) {
      const res = await me(replica, cookie);
      assert.equal(res.status, 200);
      assert.equal(res.body.user.username, name);
      assert.match(res.body.csrfToken, /^[\w-]{40,}$/);
    }
    const { rows } = await db.query(
      'SELECT u.username FROM user_identities i JOIN users u ON u.id = i.user_id WHERE i.issuer = $1 AND i.subject = $2',
      [mock.issuerUrl, sub],
    );
    assert.deepEqual(rows, [{ username: name }]);
  });

  it('When the same identity signs in again, then it is the same user; a name already taken gets a suffix, never the other account', async () => {
    const taken = uniqueName('taken');
    assert.equal((await new HttpClient(shared[0]!.url).post('/api/register', { username: taken, password: PASSWORD })).status, 201);
    mock.signInAs({ sub: uniqueName('sub'), preferred_username: taken, email: `${taken}@example.com` });
    const first = await me(shared[0]!, await signIn(shared[1]!, shared[2]!));
    const again = await me(shared[2]!, await signIn(shared[0]!, shared[1]!));
    assert.match(first.body.user.username, new RegExp(`^${taken}-[0-9a-f]{6}$`));
    assert.equal(again.body.user.username, first.body.user.username);
    const users = await db.query('SELECT count(*)::int AS n FROM users WHERE username LIKE $1', [`${taken}%`]);
    assert.equal(users.rows[0].n, 2, 'the password account and one provider account');
  });

  it('When a callback is replayed or arrives without the session that started it, then 400 JSON and no session', async () => {
    const { authorizeUrl, cookie } = await begin(shared[0]!);
    const callbackUrl = await atProvider(authorizeUrl);
    assert.equal((await callback(shared[1]!, callbackUrl, cookie)).status, 302);
    for (const [label, res] of [
      ['replayed', await callback(shared[2]!, callbackUrl, cookie)],
      ['no cookie', await callback(shared[2]!, callbackUrl)],
    ] as const) {
      assert.equal(res.status, 400, label);
      assert.deepEqual(await res.json(), { error: 'no sign-in in progress in this session: start again at /api/oidc/login' });
      assert.equal(setCookie(res), undefined, label);
    }
  });

  it('When the state does not match, then 400 JSON, and the pending sign-in cannot be used afterwards', async () => {
    const { authorizeUrl, cookie } = await begin(shared[0]!);
    const callbackUrl = await atProvider(authorizeUrl);
    const forged = new URL(callbackUrl);
    forged.searchParams.set('state', 'forged-state');
    const res = await callback(shared[1]!, forged, cookie);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { error: 'sign-in failed: unexpected "state" response parameter value' });
    assert.equal((await callback(shared[1]!, callbackUrl, cookie)).status, 400, 'one try per sign-in');
  });

  it('When the provider refuses the sign-in, then 400 JSON naming its error', async () => {
    const { authorizeUrl, cookie } = await begin(shared[0]!);
    const refused = new URL(REDIRECT_URL);
    refused.search = new URLSearchParams({ error: 'access_denied', state: authorizeUrl.searchParams.get('state')! }).toString();
    const res = await callback(shared[2]!, refused, cookie);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { error: 'sign-in failed at the provider: access_denied' });
  });

  it("When sessions live in each replica's memory, then a sign-in that returns to another replica fails: the reason for a shared store", async () => {
    mock.signInAs({ sub: uniqueName('sub'), preferred_username: uniqueName('mem') });
    const [m1, m2] = memory;
    const { authorizeUrl, cookie } = await begin(m1!);
    const res = await callback(m2!, await atProvider(authorizeUrl), cookie);
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { error: 'no sign-in in progress in this session: start again at /api/oidc/login' });
    // The same flow returning to the replica that started it works: only the store made the difference.
    assert.equal((await me(m1!, await signIn(m1!, m1!))).status, 200);
  });
});

describe('OIDC configuration', () => {
  it('When OIDC is configured, then /api/auth-options offers it; when not, it says so and /api/oidc/login is 404', async (t: TestContext) => {
    assert.deepEqual(await (await get(`${shared[0]!.url}/api/auth-options`)).json(), {
      password: true,
      oidc: { loginUrl: '/api/oidc/login' },
    });
    const plain = await startApp(t, databaseUrl);
    assert.deepEqual(await (await get(`${plain.url}/api/auth-options`)).json(), { password: true, oidc: null });
    const res = await get(`${plain.url}/api/oidc/login`);
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { error: 'not found' });
  });

  it('When the provider cannot be reached, then /api/oidc/login is 503 JSON with Retry-After, and the replica still serves', async (t: TestContext) => {
    const app = await startApp(t, databaseUrl, { ...mock.env(REDIRECT_URL), OIDC_ISSUER_URL: `http://127.0.0.1:${await freePort()}` });
    const res = await get(`${app.url}/api/oidc/login`);
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { error: 'identity provider unavailable, try again shortly' });
    assert.equal(res.headers.get('retry-after'), '5');
    assert.equal((await get(`${app.url}/api/auth-options`)).status, 200);
  });

  it('When OIDC settings are partial or unsafe, then the configuration is refused with one line naming the setting', () => {
    const all = mock.env(REDIRECT_URL);
    const message = (env: NodeJS.ProcessEnv) => {
      try {
        loadConfig(env);
        return 'accepted';
      } catch (err) {
        return (err as Error).message;
      }
    };
    assert.equal(
      message({ OIDC_CLIENT_ID: 'x' }),
      'Invalid configuration: OIDC_ISSUER_URL: is required with OIDC_CLIENT_ID (OIDC sign-in needs all four OIDC_* settings, or none)',
    );
    assert.equal(
      message({ ...all, OIDC_CLIENT_SECRET: '' }),
      'Invalid configuration: OIDC_CLIENT_SECRET: is required with OIDC_ISSUER_URL (OIDC sign-in needs all four OIDC_* settings, or none)',
    );
    assert.equal(
      message({ ...all, OIDC_ISSUER_URL: 'http://idp.example.com' }),
      'Invalid configuration: OIDC_ISSUER_URL: must be https (plain http only for a provider on 127.0.0.1 or localhost)',
    );
    assert.equal(
      message({ ...all, OIDC_REDIRECT_URL: 'https://app.example.com/callback' }),
      'Invalid configuration: OIDC_REDIRECT_URL: must end in /api/oidc/callback, e.g. https://app.example.com/api/oidc/callback',
    );
    assert.equal(
      message({ ...all, OIDC_ISSUER_URL: 'accounts.google.com' }),
      'Invalid configuration: OIDC_ISSUER_URL: must be an http(s) URL',
    );
    assert.equal(message({ ...all, OIDC_ISSUER_URL: 'https://accounts.google.com' }), 'accepted');
  });
});
