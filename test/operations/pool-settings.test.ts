/** The pool settings (PG_POOL_MAX, PG_CONNECT_TIMEOUT_MS, PG_IDLE_TIMEOUT_MS, PG_STATEMENT_TIMEOUT_MS) take effect. */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import pg from 'pg';
import { loadConfig } from '../../app/config.js';
import { APPLICATION_NAME, createPool } from '../../app/db.js';
import { isDatabaseUnavailable } from '../../app/http/errors.js';
import { migratedDatabase } from '../helpers/database.js';
import { waitFor } from '../helpers/wait-for.js';

let databaseUrl: string;
before(async () => {
  databaseUrl = await migratedDatabase();
});

function appPool(t: { after(fn: () => Promise<void>): void }, env: NodeJS.ProcessEnv = {}): pg.Pool {
  const pool = createPool(loadConfig({ DATABASE_URL: databaseUrl, ...env }).database, () => {});
  t.after(() => pool.end());
  return pool;
}

async function failure(work: Promise<unknown>): Promise<Error & { code?: string }> {
  return work.then(
    () => assert.fail('expected the query to fail'),
    (err: Error) => err,
  );
}

describe('Pool settings', () => {
  it('When the pool runs a query, then statement_timeout is PG_STATEMENT_TIMEOUT_MS (5 s by default)', async (t) => {
    assert.equal((await appPool(t).query('SHOW statement_timeout')).rows[0].statement_timeout, '5s');
    const custom = appPool(t, { PG_STATEMENT_TIMEOUT_MS: '1500' });
    assert.equal((await custom.query('SHOW statement_timeout')).rows[0].statement_timeout, '1500ms');
  });

  it('When a query runs past statement_timeout, then Postgres cancels it and the app counts it as unavailable (503)', async (t) => {
    const pool = appPool(t, { PG_STATEMENT_TIMEOUT_MS: '300' });
    const started = Date.now();
    // A sleep 100 times the timeout: only a cancel can end it early. 57014 (query_canceled) is the server's own
    // answer; the client's query_timeout (1.3 s here) would fail with another error.
    const err = await failure(pool.query('SELECT pg_sleep(30)'));
    const took = Date.now() - started;
    assert.equal(err.code, '57014', err.message);
    // Lower bound: the server counts from the statement's start, after `started` (a few ms of clock rounding allowed).
    // Upper bound: far below the 30 s sleep, with slack for a loaded machine.
    assert.ok(took >= 250 && took < 10_000, `cancelled after ${took} ms`);
    assert.ok(isDatabaseUnavailable(err));
    assert.equal((await pool.query('SELECT 1 AS ok')).rows[0].ok, 1, 'the connection stays usable');
  });

  it('When a server accepts connections but never answers, then a query fails after PG_CONNECT_TIMEOUT_MS, as unavailable', async (t) => {
    const silent = new Set<Socket>();
    const server = createServer((socket) => silent.add(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(async () => {
      for (const socket of silent) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    });
    const { port } = server.address() as { port: number };
    const pool = createPool(
      loadConfig({ DATABASE_URL: `postgres://app:secret@127.0.0.1:${port}/app`, PG_CONNECT_TIMEOUT_MS: '300' }).database,
      () => {},
    );
    t.after(() => pool.end());
    const started = Date.now();
    const err = await failure(pool.query('SELECT 1'));
    const took = Date.now() - started;
    // The server never answers, so without the timeout (pg's default is none) the query would wait until the test's
    // own timeout. Lower bound: not before PG_CONNECT_TIMEOUT_MS (a few ms of timer rounding allowed). Upper bound:
    // generous slack for a loaded machine, still far from "never".
    assert.ok(took >= 250 && took < 10_000, `failed after ${took} ms`);
    assert.ok(isDatabaseUnavailable(err), err.message);
  });

  it('When connections stay idle past PG_IDLE_TIMEOUT_MS, then the pool closes them', async (t) => {
    const pool = appPool(t, { PG_IDLE_TIMEOUT_MS: '1000' });
    let closedAt: number | undefined;
    pool.on('remove', () => {
      if (pool.totalCount === 0) closedAt = Date.now();
    });
    const started = Date.now();
    await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 1')]);
    assert.equal(pool.totalCount, 2);
    // The event: the pool removes its last client ('remove'). The bound is only against a hang.
    await waitFor(() => closedAt !== undefined, { what: 'the pool closes its idle connections', timeoutMs: 15_000 });
    const idleFor = closedAt! - started;
    // Lower bound: the idle timer starts when a client is released, after `started` (timer rounding allowed).
    assert.ok(idleFor >= 950, `closed after ${idleFor} ms, before PG_IDLE_TIMEOUT_MS`);
    assert.equal(pool.totalCount, 0);
  });

  it('When more queries than PG_POOL_MAX run at once, then the others wait for a connection', async (t) => {
    // The queries wait on an advisory lock the test holds, so the pool's state stays still until the test lets go:
    // no assertion depends on how fast the queries run.
    const LOCK = 7_100_014;
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    t.after(() => admin.end());
    await admin.query('SELECT pg_advisory_lock($1)', [LOCK]);
    const pool = appPool(t, { PG_POOL_MAX: '2', PG_STATEMENT_TIMEOUT_MS: '30000' });
    const running = Promise.all(Array.from({ length: 5 }, () => pool.query('SELECT pg_advisory_xact_lock_shared($1)', [LOCK])));
    const blockedOnServer = async () => {
      const { rows } = await admin.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity
         WHERE application_name = $1 AND datname = current_database() AND wait_event_type = 'Lock'`,
        [APPLICATION_NAME],
      );
      return rows[0].n as number;
    };
    // The event: the pool's connections are all waiting on the lock in PostgreSQL.
    await waitFor(async () => (await blockedOnServer()) >= 2, { what: 'two pool queries wait on the lock' });
    assert.equal(await blockedOnServer(), 2, 'no more than PG_POOL_MAX queries reached the server');
    assert.equal(pool.totalCount, 2);
    assert.equal(pool.waitingCount, 3);
    await admin.query('SELECT pg_advisory_unlock($1)', [LOCK]);
    await running;
  });
});
