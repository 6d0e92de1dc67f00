/**
 * Orders a race between requests on different replicas without relying on timing (test instrument, on a test file's
 * own disposable database only): a trigger on the session table parks matching statements inside PostgreSQL on an
 * advisory lock that the test holds; pg_stat_activity shows when each request is where it should be; then the test
 * lets go.
 */
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort } from '../../infra/ports.js';
import { startReplica, waitForReady, type ReplicaProcess } from '../../infra/replica.js';
import { startOidcMock } from '../../infra/oidc-mock.js';
import { migratedDatabase } from './database.js';
import { replicaEnv } from './replicas.js';

export const sessionWrite = /^(advisory|transactionid|tuple) (INSERT INTO|UPDATE) "session"/;
export const sessionDelete = /^(advisory|transactionid|tuple) (WITH \w+ AS \()?DELETE FROM "session"/;

export interface SessionGate {
  /** Closes the gate and parks, for as long as it stays closed, every session statement of `events` matching `when`. */
  park(t: TestContext, events: string, when: string): Promise<{ open(): Promise<void> }>;
  /** The app's statements now waiting in PostgreSQL, as "<wait event> <statement>". */
  waiting(): Promise<string[]>;
  until(what: string, check: () => Promise<boolean> | boolean): Promise<void>;
}

/** `key`: the advisory lock key; the database belongs to the calling test file. */
async function sessionGate(admin: pg.Client, key: number): Promise<SessionGate> {
  // The trigger's function: wait until the test opens the gate (a shared lock is granted once the test's is gone).
  await admin.query(`CREATE FUNCTION park_until_gate_opens() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_advisory_xact_lock_shared(${key}); RETURN COALESCE(NEW, OLD); END $$`);

  const waiting = async () => {
    const { rows } = await admin.query<{ line: string }>(
      `SELECT wait_event || ' ' || query AS line FROM pg_stat_activity
       WHERE datname = current_database() AND application_name = 'express-pg-sessions' AND state = 'active' AND wait_event_type = 'Lock'`,
    );
    return rows.map((r) => r.line);
  };

  return {
    waiting,
    async park(t, events, when) {
      await admin.query(`SELECT pg_advisory_lock(${key})`);
      await admin.query(
        `CREATE TRIGGER park BEFORE ${events} ON session FOR EACH ROW WHEN (${when}) EXECUTE FUNCTION park_until_gate_opens()`,
      );
      let opened = false;
      const open = async () => {
        if (opened) return;
        opened = true;
        await admin.query(`SELECT pg_advisory_unlock(${key})`);
      };
      t.after(async () => {
        await open();
        await admin.query('DROP TRIGGER IF EXISTS park ON session');
      });
      return { open };
    },
    async until(what, check) {
      for (let i = 0; i < 400; i++) {
        if (await check()) return;
        await sleep(25);
      }
      throw new Error(`gave up waiting: ${what} (waiting now: ${(await waiting()).join(' | ') || 'nothing'})`);
    },
  };
}

/** A request whose answer can be checked for later, while the test goes on. */
export function inFlight(request: Promise<Response>) {
  let answered = false;
  const reply = request.then(async (res) => {
    answered = true;
    return { status: res.status, text: await res.text(), setCookie: res.headers.getSetCookie() };
  });
  return { reply, answered: () => answered };
}

/**
 * A request that loads the session and saves it changed: a signed-in user's GET /api/oidc/login (the replica needs the
 * OIDC settings), which stores the pending sign-in in the session before redirecting.
 */
export const savingRequest = (replicaUrl: string, cookieHeader: string) =>
  inFlight(fetch(`${replicaUrl}/api/oidc/login`, { redirect: 'manual', headers: { cookie: cookieHeader } }));

export interface RaceCluster {
  databaseUrl: string;
  /** The test's own connection, outside the app's pool. */
  admin: pg.Client;
  gate: SessionGate;
  replicas: ReplicaProcess[];
  stop(): Promise<void>;
}

/**
 * Three replica processes on a migrated database of their own, with OIDC settings (a local provider) so that
 * `savingRequest` works, and the gate on that database. `key`: the gate's advisory lock key.
 */
export async function startRaceCluster(key: number): Promise<RaceCluster> {
  const mock = await startOidcMock();
  const databaseUrl = await migratedDatabase();
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  const gate = await sessionGate(admin, key);
  const env = replicaEnv(databaseUrl, { PASSWORD_SCRYPT_COST: '1024', ...mock.env('https://app.example.test/api/oidc/callback') });
  const replicas = await Promise.all([0, 1, 2].map(async () => startReplica({ port: await freePort(), env })));
  await Promise.all(replicas.map((r) => waitForReady(r)));
  return {
    databaseUrl,
    admin,
    gate,
    replicas,
    async stop() {
      await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
      await mock.stop();
      await admin.end();
    },
  };
}
