/** The pool settings (PG_POOL_MAX, PG_CONNECT_TIMEOUT_MS, PG_IDLE_TIMEOUT_MS, PG_STATEMENT_TIMEOUT_MS) take effect. */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { loadConfig } from '../../app/config.js';
import { createPool } from '../../app/db.js';
import { isDatabaseUnavailable } from '../../app/http/errors.js';
import { migratedDatabase } from '../helpers/database.js';

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
    const err = await failure(pool.query('SELECT pg_sleep(3)'));
    assert.equal(err.code, '57014');
    assert.ok(Date.now() - started < 2_000);
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
    assert.ok(took >= 250 && took < 1_500, `failed after ${took} ms`);
    assert.ok(isDatabaseUnavailable(err), err.message);
  });

  it('When connections stay idle past PG_IDLE_TIMEOUT_MS, then the pool closes them', async (t) => {
    const pool = appPool(t, { PG_IDLE_TIMEOUT_MS: '1000' });
    await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 1')]);
    assert.equal(pool.totalCount, 2);
    await sleep(1_500);
    assert.equal(pool.totalCount, 0);
  });

  it('When more queries than PG_POOL_MAX run at once, then the others wait for a connection', async (t) => {
    const pool = appPool(t, { PG_POOL_MAX: '2' });
    const running = Promise.all(Array.from({ length: 5 }, () => pool.query('SELECT pg_sleep(0.2)')));
    await sleep(50);
    assert.equal(pool.totalCount, 2);
    assert.equal(pool.waitingCount, 3);
    await running;
  });
});
