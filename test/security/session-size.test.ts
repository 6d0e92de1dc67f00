/**
 * The session size cap (SESSION_MAX_BYTES): a session whose JSON is larger is refused with a clear error and the stored
 * row stays as it was. Through the real store on a real PostgreSQL, and over HTTP against real replica processes.
 */
import { describe, it, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { SessionData } from 'express-session';
import pg from 'pg';
import { loadConfig } from '../../app/config.js';
import { createPool } from '../../app/db.js';
import { closeSessionStore, createSessionStore } from '../../app/session.js';
import { SessionTooLargeError } from '../../app/session-store.js';
import { freePort } from '../../infra/ports.js';
import { startReplica, waitForReady, type ReplicaProcess } from '../../infra/replica.js';
import { startOidcMock, type OidcMock } from '../../infra/oidc-mock.js';
import { HttpClient, PASSWORD, uniqueName } from '../helpers/http-client.js';
import { migratedDatabase } from '../helpers/database.js';
import { replicaEnv } from '../helpers/replicas.js';

const REDIRECT_URL = 'https://app.example.test/api/oidc/callback';

let databaseUrl: string;
let db: pg.Pool;
let mock: OidcMock;
const replicas: ReplicaProcess[] = [];

before(async () => {
  databaseUrl = await migratedDatabase();
  db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  mock = await startOidcMock();
});
after(async () => {
  await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
  await mock?.stop();
  await db?.end();
});

/** The app's own store (app/session.ts) with SESSION_MAX_BYTES=`maxBytes`, on its own pool. */
function storeWithCap(t: TestContext, maxBytes: number) {
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: databaseUrl, SESSION_MAX_BYTES: String(maxBytes) });
  const pool = createPool(config.database, () => {});
  const store = createSessionStore(config, pool, () => {});
  t.after(async () => {
    await closeSessionStore(store);
    await pool.end();
  });
  const call = <T>(fn: (done: (err: unknown, value?: T) => void) => void) =>
    new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
  return {
    set: (sid: string, sess: object) => call<void>((done) => store.set(sid, sess as SessionData, done)),
    /** Loads the session the way express-session does (Store#load builds the Session object with createSession). */
    load: (sid: string) => call<SessionData & { save(cb: (err?: unknown) => void): void }>((done) => store.load(sid, done as never)),
  };
}

const storedSess = async (sid: string) => (await db.query('SELECT sess FROM session WHERE sid = $1', [sid])).rows[0]?.sess;

/** A session as express-session stores it, plus `note`. */
const sessionWith = (note: string) => ({
  cookie: { originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000).toISOString(), httpOnly: true, path: '/' },
  note,
});
const bytesOf = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe('Session size cap', () => {
  it('When a session reaches the cap exactly it is stored; one byte more is refused with the sizes named and the row unchanged', async (t) => {
    const cap = 512;
    const store = storeWithCap(t, cap);
    const sid = randomBytes(16).toString('hex');
    const fits = sessionWith('a'.repeat(cap - bytesOf(sessionWith(''))));
    assert.equal(bytesOf(fits), cap);
    await store.set(sid, fits);
    assert.deepEqual(await storedSess(sid), fits);

    const over = sessionWith(`${fits.note}b`);
    await assert.rejects(store.set(sid, over), (err: unknown) => {
      assert.ok(err instanceof SessionTooLargeError);
      assert.equal(err.message, `session data too large (${cap + 1} bytes, at most ${cap})`);
      return true;
    });
    assert.deepEqual(await storedSess(sid), fits, 'the stored session is unchanged');
  });

  it('When a loaded session grows past the cap in UTF-8 bytes (not characters), then saving it is refused and the row is unchanged', async (t) => {
    const cap = 512;
    const store = storeWithCap(t, cap);
    const sid = randomBytes(16).toString('hex');
    const small = sessionWith('small');
    await store.set(sid, small);

    const loaded = await store.load(sid);
    // 250 characters, 500 bytes: under the cap counted in characters, over it in bytes.
    (loaded as unknown as { note: string }).note = 'é'.repeat(250);
    const [characters, bytes] = [JSON.stringify(loaded).length, bytesOf(loaded)];
    assert.ok(characters < cap && bytes > cap, `${characters} characters, ${bytes} bytes`);
    const saved = new Promise<unknown>((resolve) => loaded.save(resolve));
    const err = await saved;
    assert.ok(err instanceof SessionTooLargeError, String(err));
    assert.equal(err.message, `session data too large (${bytes} bytes, at most ${cap})`);
    assert.deepEqual(await storedSess(sid), small);
  });

  it('When a request would make a session larger than SESSION_MAX_BYTES, then 413 JSON naming the sizes, the row is unchanged and the user stays logged in', async () => {
    const env = replicaEnv(databaseUrl, { PASSWORD_SCRYPT_COST: '1024', ...mock.env(REDIRECT_URL) });
    const roomy = startReplica({ port: await freePort(), env });
    replicas.push(roomy);
    await waitForReady(roomy);
    const client = new HttpClient(roomy.url);
    const username = uniqueName('size');
    assert.equal((await client.post('/api/register', { username, password: PASSWORD })).status, 201);
    const row = async () =>
      (
        await db.query(`SELECT xmin::text, sess, octet_length(sess::text) AS bytes FROM session WHERE sess->'user'->>'username' = $1`, [
          username,
        ])
      ).rows[0];
    const before = await row();

    // A cap the signed-in session fits under, but not with a sign-in pending in it (state, nonce and verifier: ~180 bytes).
    const cap = before.bytes + 50;
    const tight = startReplica({ port: await freePort(), env: { ...env, SESSION_MAX_BYTES: String(cap) } });
    replicas.push(tight);
    await waitForReady(tight);

    const signIn = await fetch(`${tight.url}/api/oidc/login`, { redirect: 'manual', headers: { cookie: client.cookieHeader } });
    assert.equal(signIn.status, 413);
    assert.ok(signIn.headers.get('x-instance'));
    const { error } = (await signIn.json()) as { error: string };
    const [, bytes] = /^session data too large \((\d+) bytes, at most (\d+)\)$/.exec(error) ?? [];
    assert.ok(bytes, error);
    assert.ok(Number(bytes) > cap, error);
    assert.equal(error, `session data too large (${bytes} bytes, at most ${cap})`);
    assert.deepEqual(await row(), before, 'the stored session is unchanged');
    assert.equal((await client.sharingSessionWith(tight.url).get('/api/me')).status, 200, 'still logged in');

    // The same request under the default cap (4096 bytes) goes through.
    const roomyAnswer = await fetch(`${roomy.url}/api/oidc/login`, { redirect: 'manual', headers: { cookie: client.cookieHeader } });
    assert.equal(roomyAnswer.status, 302);
    assert.equal((await row()).bytes, Number(bytes), 'the refused session was exactly the size the error named');
  });
});
