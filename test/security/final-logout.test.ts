/**
 * Final logout across replicas: once POST /api/logout has answered, no request still in flight on another replica can
 * bring the session back. Three real replica processes on one real PostgreSQL.
 *
 * The request in flight is a logged-in user's GET /api/oidc/login: it loads the session, adds the pending sign-in and
 * saves it before redirecting. connect-pg-simple's save is an upsert, so a save that lands after the logout's DELETE
 * used to insert the session again.
 *
 * Test instrument (test/helpers/session-gate.ts): to order the two requests without relying on timing, a trigger on the
 * session table parks one statement inside PostgreSQL on an advisory lock that the test holds, for this test's user
 * only. pg_stat_activity shows when each request is where it should be; then the test lets go.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { SessionData } from 'express-session';
import type pg from 'pg';
import { loadConfig } from '../../app/config.js';
import { createPool } from '../../app/db.js';
import { closeSessionStore, createSessionStore } from '../../app/session.js';
import { SessionEndedError } from '../../app/session-store.js';
import type { ReplicaProcess } from '../../infra/replica.js';
import { HttpClient, PASSWORD, uniqueName } from '../helpers/http-client.js';
import { sessionIdOf } from '../helpers/cookies.js';
import {
  inFlight,
  savingRequest,
  sessionDelete,
  sessionWrite,
  startRaceCluster,
  type RaceCluster,
  type SessionGate,
} from '../helpers/session-gate.js';

const GATE = 6_006; // advisory lock key; the database belongs to this file

let race: RaceCluster;
let admin: pg.Client;
let replicas: ReplicaProcess[];
let parkSessionStatements: SessionGate['park'];
let waiting: SessionGate['waiting'];
let until: SessionGate['until'];

before(async () => {
  race = await startRaceCluster(GATE);
  ({ admin, replicas } = race);
  ({ park: parkSessionStatements, waiting, until } = race.gate);
});
after(() => race?.stop());

async function loggedIn(): Promise<{ client: HttpClient; username: string }> {
  const username = uniqueName('final');
  const client = new HttpClient(replicas[0]!.url);
  assert.equal((await client.post('/api/register', { username, password: PASSWORD })).status, 201);
  for (const replica of replicas) assert.equal((await client.sharingSessionWith(replica.url).get('/api/me')).status, 200);
  return { client, username };
}

/** A logged-in user's GET /api/oidc/login on `replica`: loads the session, stores the pending sign-in in it, saves. */
const startSignIn = (replica: ReplicaProcess, client: HttpClient) => savingRequest(replica.url, client.cookieHeader);

const logOut = (replica: ReplicaProcess, client: HttpClient) =>
  inFlight(
    fetch(`${replica.url}/api/logout`, { method: 'POST', headers: { cookie: client.cookieHeader, 'x-csrf-token': client.csrfToken } }),
  );

async function assertLoggedOutEverywhere(client: HttpClient): Promise<void> {
  for (const replica of replicas) {
    const res = await client.sharingSessionWith(replica.url).get('/api/me');
    assert.equal(res.status, 401, `the logged-out session is back on ${replica.url}: ${JSON.stringify(res.body)}`);
  }
  const sid = sessionIdOf(client.cookies.get('sid')!);
  const { rows } = await admin.query('SELECT 1 FROM session WHERE sid = $1', [sid]);
  assert.equal(rows.length, 0, 'no session row');
}

describe('Final logout across replicas', () => {
  it('When a request that loaded the session is saving it while the user logs out on another replica, then the session stays logged out on every replica', async (t) => {
    const { client, username } = await loggedIn();
    const [a, b] = replicas;
    // Park replica A's save of this user's session with the pending sign-in in it.
    const gate = await parkSessionStatements(
      t,
      'INSERT OR UPDATE',
      `NEW.sess->'oidc' IS NOT NULL AND NEW.sess->'user'->>'username' = ${admin.escapeLiteral(username)}`,
    );
    const signIn = startSignIn(a!, client);
    await until("A's save is parked", async () => (await waiting()).some((w) => sessionWrite.test(w)));

    const logout = logOut(b!, client);
    // The logout either finishes while A's save is parked, or queues behind it (A's UPDATE holds the row's lock).
    await until(
      'the logout has answered or waits behind the save',
      async () => logout.answered() || (await waiting()).some((w) => sessionDelete.test(w)),
    );
    t.diagnostic(logout.answered() ? 'the logout answered while the save was parked' : 'the logout waited for the save in flight');
    await gate.open();

    assert.equal((await logout.reply).status, 204);
    const answer = await signIn.reply;
    await assertLoggedOutEverywhere(client);
    assert.equal(answer.status, 302, `the request in flight saved before the logout deleted: ${answer.text}`);
  });

  it('When a request saves a session that a logout on another replica has just deleted, then it gets 401 JSON "session ended" and the session stays gone', async (t) => {
    const { client, username } = await loggedIn();
    const [a, b] = replicas;
    // Park replica B's DELETE of this user's session: the row stays visible (and locked) until the gate opens.
    const gate = await parkSessionStatements(t, 'DELETE', `OLD.sess->'user'->>'username' = ${admin.escapeLiteral(username)}`);
    const logout = logOut(b!, client);
    await until("B's DELETE is parked", async () => (await waiting()).some((w) => sessionDelete.test(w)));

    // A loads the session (still there for it), then its save waits for the DELETE to commit or roll back.
    const signIn = startSignIn(a!, client);
    await until("A's save waits for the logout's DELETE", async () =>
      (await waiting()).some((w) => /^transactionid /.test(w) && sessionWrite.test(w)),
    );
    await gate.open();

    assert.equal((await logout.reply).status, 204);
    const answer = await signIn.reply;
    await assertLoggedOutEverywhere(client);
    assert.equal(answer.status, 401, answer.text);
    assert.deepEqual(JSON.parse(answer.text), { error: 'session ended' });
    assert.deepEqual(answer.setCookie, [], 'the ended session is not handed out again');
  });

  it('When the store saves a session it loaded after the row was deleted, then it refuses with SessionEndedError and inserts nothing; a new session still inserts', async (t) => {
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: race.databaseUrl });
    const pool = createPool(config.database, () => {});
    const store = createSessionStore(config, pool, () => {});
    t.after(async () => {
      await closeSessionStore(store);
      await pool.end();
    });
    const call = (fn: (done: (err?: unknown, value?: unknown) => void) => void) =>
      new Promise<unknown>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
    const rows = async (sid: string) => (await admin.query('SELECT sess FROM session WHERE sid = $1', [sid])).rows;
    const sid = randomBytes(16).toString('hex');
    const data = {
      cookie: { originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000).toISOString(), httpOnly: true, path: '/' },
      step: 1,
    };

    await call((done) => store.set(sid, data as unknown as SessionData, done)); // a new session: inserted
    const loaded = (await call((done) => store.load(sid, done))) as SessionData & { step: number; save(cb: (err?: unknown) => void): void };
    loaded.step = 2;
    await call((done) => loaded.save(done)); // loaded and still there: updated
    assert.equal((await rows(sid))[0].sess.step, 2);

    await call((done) => store.destroy(sid, done)); // the logout, as another replica would do it
    loaded.step = 3;
    await assert.rejects(
      call((done) => loaded.save(done)),
      SessionEndedError,
    );
    assert.deepEqual(await rows(sid), [], 'not inserted again');
  });
});
