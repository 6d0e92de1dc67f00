/**
 * Every way a session ends besides logout (another device's "log out other devices", a single ending by handle, a
 * password change, the operator's revocation) is final on every replica at once, with the guarantee of a logout: no
 * request still in flight can bring the session back. Three real replica processes on one real PostgreSQL; the races
 * are ordered with test/helpers/session-gate.ts, as in final-logout.test.ts.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { ReplicaProcess } from '../../infra/replica.js';
import { HttpClient, PASSWORD, uniqueName } from '../helpers/http-client.js';
import { sessionIdOf } from '../helpers/cookies.js';
import { generatedSecret } from '../../infra/replica-env.js';
import {
  inFlight,
  savingRequest,
  sessionDelete,
  sessionWrite,
  startRaceCluster,
  type RaceCluster,
  type SessionGate,
} from '../helpers/session-gate.js';
import { runSessionsCli } from '../helpers/sessions-cli.js';

const GATE = 6_016; // advisory lock key; the database belongs to this file
const NEW_PASSWORD = generatedSecret(); // generated: production refuses every value written in the repository

let race: RaceCluster;
let databaseUrl: string;
let admin: pg.Client;
let gate: SessionGate;
let replicas: ReplicaProcess[];

before(async () => {
  race = await startRaceCluster(GATE);
  ({ databaseUrl, admin, gate, replicas } = race);
});
after(() => race?.stop());

/** A user signed in three times, on replicas A, B and C, each session seen by every replica. */
async function signedInOnEachReplica(): Promise<{ username: string; sessions: HttpClient[] }> {
  const username = uniqueName('endings');
  const sessions: HttpClient[] = [];
  for (const [i, replica] of replicas.entries()) {
    const client = new HttpClient(replica.url);
    const res =
      i === 0
        ? await client.post('/api/register', { username, password: PASSWORD })
        : await client.post('/api/login', { username, password: PASSWORD });
    assert.ok(res.status === 200 || res.status === 201, JSON.stringify(res.body));
    sessions.push(client);
  }
  for (const client of sessions) await assertSignedInEverywhere(client);
  return { username, sessions };
}

async function assertSignedInEverywhere(client: HttpClient): Promise<void> {
  for (const replica of replicas)
    assert.equal((await client.sharingSessionWith(replica.url).get('/api/me')).status, 200, `signed in on ${replica.url}`);
}

async function assertEndedEverywhere(client: HttpClient): Promise<void> {
  for (const replica of replicas) {
    const res = await client.sharingSessionWith(replica.url).get('/api/me');
    assert.equal(res.status, 401, `the ended session is back on ${replica.url}: ${JSON.stringify(res.body)}`);
  }
  const { rows } = await admin.query('SELECT 1 FROM session WHERE sid = $1', [sidOf(client)]);
  assert.equal(rows.length, 0, 'no session row');
}

const sidOf = (client: HttpClient) => sessionIdOf(client.cookies.get('sid')!);
const on = (client: HttpClient, replica: ReplicaProcess) => client.sharingSessionWith(replica.url);

describe('Endings are final on every replica at once', () => {
  it('When a user logs out other devices on replica A, then the other sessions get 401 on A, B and C at once, and this one stays signed in everywhere', async () => {
    const { sessions } = await signedInOnEachReplica();
    const [keeper, ...others] = sessions as [HttpClient, ...HttpClient[]];
    const res = await on(keeper, replicas[0]!).post('/api/sessions/end-others');
    assert.deepEqual(res.body, { ended: 2 });
    for (const other of others) await assertEndedEverywhere(other);
    await assertSignedInEverywhere(keeper);
  });

  it('When a user ends one session by its handle on replica C, then that session gets 401 on every replica and the others stay', async () => {
    const { sessions } = await signedInOnEachReplica();
    const [target, kept, actor] = sessions as [HttpClient, HttpClient, HttpClient];
    const handle = (await on(target, replicas[0]!).get('/api/sessions')).body.sessions.find((s: { current: boolean }) => s.current).handle;
    assert.equal((await on(actor, replicas[2]!).request('DELETE', `/api/sessions/${handle}`)).status, 204);
    await assertEndedEverywhere(target);
    await assertSignedInEverywhere(kept);
    await assertSignedInEverywhere(actor);
  });

  it("When the password changes on replica B, then the user's session on A gets 401 on every replica, and B's continues under a new id everywhere", async () => {
    const { sessions } = await signedInOnEachReplica();
    const [onA, onB, onC] = sessions as [HttpClient, HttpClient, HttpClient];
    const before = on(onB, replicas[1]!);
    const res = await before.post('/api/password', { currentPassword: PASSWORD, newPassword: NEW_PASSWORD });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.endedSessions, 2);
    await assertEndedEverywhere(onA);
    await assertEndedEverywhere(onC);
    await assertEndedEverywhere(onB); // the old id
    await assertSignedInEverywhere(before); // the new id, kept by the client that changed it
  });

  it("When an operator revokes a user's sessions with the sessions command, then each gets 401 on every replica, and another user's sessions stay", async () => {
    const { username, sessions } = await signedInOnEachReplica();
    const { sessions: bystander } = await signedInOnEachReplica();
    const run = await runSessionsCli(['revoke', '--user', username], { DATABASE_URL: databaseUrl });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^revoked 3 live session\(s\) of /);
    for (const session of sessions) await assertEndedEverywhere(session);
    for (const session of bystander) await assertSignedInEverywhere(session);
  });
});

/** The endings whose DELETE can race a request in flight, each started from `keeper` on replica B. */
const endings = {
  'log out other devices': (keeper: HttpClient) =>
    inFlight(
      fetch(`${replicas[1]!.url}/api/sessions/end-others`, {
        method: 'POST',
        headers: { cookie: keeper.cookieHeader, 'x-csrf-token': keeper.csrfToken },
      }),
    ),
  'a password change': (keeper: HttpClient) =>
    inFlight(
      fetch(`${replicas[1]!.url}/api/password`, {
        method: 'POST',
        headers: { cookie: keeper.cookieHeader, 'x-csrf-token': keeper.csrfToken, 'content-type': 'application/json' },
        body: JSON.stringify({ currentPassword: PASSWORD, newPassword: NEW_PASSWORD }),
      }),
    ),
  "the operator's revocation": (_keeper: HttpClient, username: string) => {
    let answered = false;
    const reply = runSessionsCli(['revoke', '--user', username], { DATABASE_URL: databaseUrl }).then((run) => {
      answered = true;
      return { status: run.code === 0 ? 200 : 500, text: run.stdout + run.stderr };
    });
    return { reply, answered: () => answered };
  },
};

describe('A request in flight cannot bring an ended session back', () => {
  for (const [name, end] of Object.entries(endings)) {
    it(`When a request that loaded the session saves it after ${name} on another replica deleted it, then it gets 401 "session ended" and the session stays gone`, async (t) => {
      const { username, sessions } = await signedInOnEachReplica();
      const [target, keeper] = sessions as [HttpClient, HttpClient];
      // Park the ending's DELETE of the target's row: the row stays visible (and locked) until the gate opens.
      const parked = await gate.park(t, 'DELETE', `OLD.sid = ${admin.escapeLiteral(sidOf(target))}`);
      const ending = end(keeper, username);
      await gate.until("the ending's DELETE is parked", async () => (await gate.waiting()).some((w) => sessionDelete.test(w)));

      // Replica A loads the session (still there for it), then its save waits for the DELETE to commit or roll back.
      const save = savingRequest(replicas[0]!.url, target.cookieHeader);
      await gate.until("A's save waits for the ending's DELETE", async () =>
        (await gate.waiting()).some((w) => /^transactionid /.test(w) && sessionWrite.test(w)),
      );
      await parked.open();

      assert.equal((await ending.reply).status, 200, (await ending.reply).text);
      const answer = await save.reply;
      assert.equal(answer.status, 401, answer.text);
      assert.deepEqual(JSON.parse(answer.text), { error: 'session ended' });
      assert.deepEqual(answer.setCookie, [], 'the ended session is not handed out again');
      await assertEndedEverywhere(target);
    });

    it(`When ${name} on another replica deletes a session while a request is saving it, then the session is gone on every replica once both have answered`, async (t) => {
      const { username, sessions } = await signedInOnEachReplica();
      const [target, keeper] = sessions as [HttpClient, HttpClient];
      // Park replica A's save of the target session with the pending sign-in in it.
      const parked = await gate.park(t, 'UPDATE', `NEW.sess->'oidc' IS NOT NULL AND OLD.sid = ${admin.escapeLiteral(sidOf(target))}`);
      const save = savingRequest(replicas[0]!.url, target.cookieHeader);
      await gate.until("A's save is parked", async () => (await gate.waiting()).some((w) => sessionWrite.test(w)));

      const ending = end(keeper, username);
      // The ending waits for the save's row lock, then deletes the saved row.
      await gate.until(
        'the ending waits behind the save',
        async () => ending.answered() || (await gate.waiting()).some((w) => sessionDelete.test(w)),
      );
      await parked.open();

      assert.equal((await ending.reply).status, 200, (await ending.reply).text);
      const answer = await save.reply;
      assert.equal(answer.status, 302, `the save landed before the ending: ${answer.text}`);
      await assertEndedEverywhere(target);
    });
  }
});

describe('A login with the old password cannot outlive a password change', () => {
  it('When a login that checked the old password saves its session while the change ends every session, then the login gets 401 and leaves no session', async (t) => {
    const { username, sessions } = await signedInOnEachReplica();
    const [other, keeper] = sessions as [HttpClient, HttpClient];
    // Park the change's DELETE of the user's sessions at the other session's row, with the new hash written but not
    // yet committed: a login now still checks the old hash, and its session comes after the DELETE began.
    const parked = await gate.park(t, 'DELETE', `OLD.sid = ${admin.escapeLiteral(sidOf(other))}`);
    const change = endings['a password change'](keeper);
    await gate.until("the change's DELETE is parked", async () => (await gate.waiting()).some((w) => sessionDelete.test(w)));

    const login = new HttpClient(replicas[2]!.url);
    let answered = false;
    const attempt = login.post('/api/login', { username, password: PASSWORD }).finally(() => (answered = true));
    // Without the check after the save, the login answers here, signed in with the old password.
    await gate.until(
      "the login's check of the hash waits for the change",
      async () => answered || (await gate.waiting()).some((w) => /FOR SHARE/.test(w)),
    );
    await parked.open();

    assert.equal((await change.reply).status, 200);
    const res = await attempt;
    assert.equal(res.status, 401, JSON.stringify(res.body));
    assert.equal(login.cookies.size, 0, 'no session cookie');
    const { rows } = await admin.query(
      `SELECT count(*)::int AS n FROM session WHERE user_id = (SELECT id FROM users WHERE username = $1)`,
      [username],
    );
    assert.equal(rows[0].n, 1, "only the change's own new session");
  });
});
