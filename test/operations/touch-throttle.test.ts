/** Throttled touch: reads stop writing the session row, yet the expiry rolls forward and /api/me tells the truth. */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../app/config.js';
import { startApp, type AppInstance } from '../helpers/app-instance.js';
import { HttpClient, PASSWORD, uniqueName } from '../helpers/http-client.js';
import { migratedDatabase } from '../helpers/database.js';
import { replicaEnv, startReadyReplica } from '../helpers/replicas.js';
import { waitFor } from '../helpers/wait-for.js';
import { logLines, sample, scrape, startLoggedReplica } from './support.js';

let databaseUrl: string;
before(async () => {
  databaseUrl = await migratedDatabase();
});

async function registered(baseUrl: string) {
  const client = new HttpClient(baseUrl);
  const username = uniqueName();
  assert.equal((await client.post('/api/register', { username, password: PASSWORD })).status, 201);
  return { client, username };
}

/** The session row of a user: xmin changes with every UPDATE, even one that writes the same value. */
async function sessionRow(pool: pg.Pool, username: string): Promise<{ xmin: string; expireMs: number }> {
  const { rows } = await pool.query(
    `SELECT xmin::text, extract(epoch FROM expire)::float8 * 1000 AS "expireMs" FROM session WHERE sess->'user'->>'username' = $1`,
    [username],
  );
  assert.equal(rows.length, 1);
  return rows[0];
}

/** As if the session had been idle until only `seconds` of its life were left. */
async function leaveOnly(app: AppInstance, username: string, seconds: number): Promise<void> {
  await app.pool.query(
    `UPDATE session SET expire = (now() AT TIME ZONE 'UTC') + $2 * interval '1 second' WHERE sess->'user'->>'username' = $1`,
    [username, seconds],
  );
}

const cookieExpires = (res: { headers: Headers }) => Date.parse(/Expires=([^;]+)/.exec(res.headers.getSetCookie()[0] ?? '')?.[1] ?? '');

describe('Throttled touch', () => {
  it('When reads come within SESSION_TOUCH_AFTER_SECONDS, then the session row is never updated and /api/me reports its expiry', async (t) => {
    const touchAfterMs = 60_000;
    const app = await startApp(t, databaseUrl, { SESSION_TOUCH_AFTER_SECONDS: String(touchAfterMs / 1000) });
    const registeredAt = Date.now();
    const { client, username } = await registered(app.url);
    const before = await sessionRow(app.pool, username);
    for (let i = 0; i < 20; i++) {
      const res = await client.get('/api/me');
      assert.equal(res.status, 200);
      assert.equal(Date.parse(res.body.session.expiresAt), before.expireMs, 'expiresAt is the stored expiry');
      // rolling: every response renews the cookie, ahead of the row by less than the interval (HTTP dates drop the
      // milliseconds; the row rounds up to the second)
      const ahead = cookieExpires(res) - before.expireMs;
      assert.ok(ahead >= -1_000 && ahead < 61_000, `cookie ahead of the row by ${ahead} ms`);
    }
    // The window: a read may write only once the stored expiry trails by the interval. 20 reads take well under a
    // second; the interval is 60 s, so even a machine 50 times slower stays inside it. Checked, so that a machine too
    // slow for the window fails with this message, not as a broken throttle.
    const readsTook = Date.now() - registeredAt;
    assert.ok(readsTook < touchAfterMs / 2, `the reads took ${readsTook} ms, too close to the ${touchAfterMs} ms interval`);
    assert.deepEqual(await sessionRow(app.pool, username), before, 'no UPDATE reached the row');
  });

  it('When the stored expiry is older than the interval, then a read writes it forward and /api/me reports the new one', async (t) => {
    const app = await startApp(t, databaseUrl, { SESSION_TOUCH_AFTER_SECONDS: '60' });
    const { client, username } = await registered(app.url);
    await leaveOnly(app, username, 3_600);
    const stale = await sessionRow(app.pool, username);
    const sentAt = Date.now();
    const res = await client.get('/api/me');
    const answeredAt = Date.now();
    const after = await sessionRow(app.pool, username);
    assert.notEqual(after.xmin, stale.xmin, 'the touch was written');
    const maxAge = app.config.session.maxAgeMs;
    // The app (in this process, same clock) computed the new expiry while serving the request: one max age from a
    // moment between sending and the answer, rounded up to the whole second. Bracketed, whatever the machine's speed.
    assert.ok(
      after.expireMs >= sentAt + maxAge - 1 && after.expireMs <= answeredAt + maxAge + 1_000,
      `the row expires one max age from the read: ${after.expireMs - sentAt - maxAge} ms after sent + max age, read took ${answeredAt - sentAt} ms`,
    );
    assert.ok(Math.abs(Date.parse(res.body.session.expiresAt) - after.expireMs) < 2_000, 'expiresAt is what the row now holds');
    assert.ok(Math.abs(cookieExpires(res) - after.expireMs) < 2_000, 'the cookie agrees with the row');
  });

  it('When a session nearly at its end stays active, then it outlives that end; an idle one gets 401', async (t) => {
    const app = await startApp(t, databaseUrl, { SESSION_TOUCH_AFTER_SECONDS: '60' });
    const active = await registered(app.url);
    const idle = await registered(app.url);
    // The idle session's end first, then the active one's: the active one ends no earlier than the idle one. 4 s leave
    // room for the first read to arrive before the active session's end even on a loaded machine.
    await leaveOnly(app, idle.username, 4);
    await leaveOnly(app, active.username, 4);
    const oldEnd = Math.max((await sessionRow(app.pool, idle.username)).expireMs, (await sessionRow(app.pool, active.username)).expireMs);
    // Reads every 250 ms until both old ends have passed on this clock (the app, in this process, compares with it);
    // no fixed duration to guess.
    let reads = 0;
    while (Date.now() <= oldEnd + 100) {
      assert.equal((await active.client.get('/api/me')).status, 200, `read ${reads + 1}, ${oldEnd - Date.now()} ms before the old end`);
      reads++;
      await sleep(250);
    }
    assert.ok(reads >= 2, `${reads} reads before the old end`);
    assert.equal((await active.client.get('/api/cart')).status, 200, 'still logged in after its old expiry');
    assert.equal((await idle.client.get('/api/me')).status, 401, 'idle past its expiry');
  });

  it('When SESSION_TOUCH_AFTER_SECONDS is 0, then every read updates the row, as connect-pg-simple does', async (t) => {
    const app = await startApp(t, databaseUrl, { SESSION_TOUCH_AFTER_SECONDS: '0' });
    const { client, username } = await registered(app.url);
    let previous = await sessionRow(app.pool, username);
    for (let i = 0; i < 3; i++) {
      assert.equal((await client.get('/api/me')).status, 200);
      const now = await sessionRow(app.pool, username);
      assert.notEqual(now.xmin, previous.xmin);
      previous = now;
    }
  });

  it(
    'When a replica serves throttled reads, then its metrics count skipped touches and no touch statements',
    { timeout: 60_000 },
    async (t) => {
      const replica = await startReadyReplica(t, replicaEnv(databaseUrl, { PASSWORD_SCRYPT_COST: '1024' }));
      const { client } = await registered(replica.url);
      for (let i = 0; i < 10; i++) assert.equal((await client.get('/api/me')).status, 200);
      const metrics = await scrape(replica);
      assert.equal(sample(metrics, 'session_store_touches_skipped_total'), 10);
      assert.equal(sample(metrics, 'session_store_operation_duration_seconds_count', { operation: 'touch' }), 0);
      assert.equal(sample(metrics, 'session_store_operation_duration_seconds_count', { operation: 'get' }), 10);
      assert.ok(sample(metrics, 'session_store_operation_duration_seconds_count', { operation: 'set' }) >= 1);
      assert.equal(sample(metrics, 'session_store_errors_total'), 0);
    },
  );

  it(
    'When writing a touch fails, then the read is answered normally, and the failure is logged as a store error and counted',
    { timeout: 60_000 },
    async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'touch-test-'));
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const logFile = join(dir, 'replica.log');
      const replica = await startLoggedReplica(
        t,
        // info: request lines are logged too, one of which marks a point in the replica's log (below)
        replicaEnv(databaseUrl, { SESSION_TOUCH_AFTER_SECONDS: '0', PASSWORD_SCRYPT_COST: '1024', LOG_LEVEL: 'info' }),
        logFile,
      );
      const { client, username } = await registered(replica.url);
      // A real PostgreSQL error on the touch's UPDATE of this one row; reads and other sessions are untouched.
      const admin = new pg.Client({ connectionString: databaseUrl });
      await admin.connect();
      t.after(async () => {
        await admin.query('DROP TRIGGER IF EXISTS refuse_update ON session');
        await admin.end();
      });
      await admin.query(`CREATE OR REPLACE FUNCTION refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF OLD.sess->'user'->>'username' = '${username}' THEN RAISE EXCEPTION 'refused for the test'; END IF; RETURN NEW; END $$`);
      await admin.query('CREATE TRIGGER refuse_update BEFORE UPDATE ON session FOR EACH ROW EXECUTE FUNCTION refuse_update()');

      const res = await client.get('/api/me');
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.user, { username }, 'the body arrived whole');
      const metrics = await scrape(replica);
      assert.equal(sample(metrics, 'session_store_errors_total', { operation: 'touch' }), 1);
      // An error handed to express-session would reach the error handler just after the answer (express-session
      // defers it with setImmediate). A marker request sent after that answer is handled after anything so deferred,
      // so once the marker's request line is in the log, such an error would be logged before it: an ordering, not a
      // guessed delay.
      const marker = `marker-${uniqueName()}`;
      assert.equal((await fetch(`${replica.url}/api/me`, { headers: { 'x-request-id': marker } })).status, 401);
      const lines = await waitFor(
        () => {
          const all = logLines(logFile);
          return all.some((l) => l.req?.id === marker) && all;
        },
        { what: `the marker request ${marker} is logged` },
      );
      assert.ok(lines.some((l) => l.msg === 'session store error' && l.err.message === 'refused for the test'));
      assert.ok(!lines.some((l) => l.msg === 'unhandled error'), 'not reported as a failed request');
    },
  );

  it('When SESSION_TOUCH_AFTER_SECONDS is not below the session max age, then the configuration is refused; unset, it is 1 % of the max age, at most an hour', () => {
    assert.throws(
      () => loadConfig({ SESSION_MAX_AGE_SECONDS: '120', SESSION_TOUCH_AFTER_SECONDS: '120' }),
      /^ConfigError: Invalid configuration: SESSION_TOUCH_AFTER_SECONDS: must be less than SESSION_MAX_AGE_SECONDS$/,
    );
    assert.equal(loadConfig({}).session.touchAfterMs, 3_600_000, 'default for 30-day sessions: one hour');
    assert.equal(loadConfig({ SESSION_MAX_AGE_SECONDS: '1800' }).session.touchAfterMs, 18_000, 'default: 1 % of a short max age');
  });
});
