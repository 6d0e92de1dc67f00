/** The app's pg pool: UTC sessions (the expire column has no time zone) and idle clients that die without a crash. */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { loadConfig } from '../app/config.js';
import { createPool } from '../app/db.js';
import { migratedDatabase } from './helpers/database.js';

let databaseUrl: string;
before(async () => {
  databaseUrl = await migratedDatabase();
});

describe('Database pool', () => {
  it('When a pool client runs a query, then its time zone is UTC whatever the server default', async (t) => {
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    const dbName = new URL(databaseUrl).pathname.slice(1);
    await admin.query(`ALTER DATABASE "${dbName}" SET timezone TO 'America/New_York'`);
    await admin.end();
    const pool = createPool(loadConfig({ DATABASE_URL: databaseUrl }).database, () => {});
    t.after(() => pool.end());
    assert.equal((await pool.query('SHOW TimeZone')).rows[0].TimeZone, 'UTC');
  });

  it('When Postgres ends idle pooled connections, then the callback hears of it and the pool serves the next query', async (t) => {
    const idleErrors: Error[] = [];
    const pool = createPool(loadConfig({ DATABASE_URL: databaseUrl }).database, (err) => idleErrors.push(err));
    t.after(() => pool.end());
    await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 1')]);
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    const { rowCount } = await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'express-pg-sessions'`,
    );
    await admin.end();
    assert.ok(rowCount! > 0, 'some pooled connections were idle');
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Without the pool's error listener this process would have died of an unhandled 'error' event.
    assert.ok(idleErrors.length > 0, 'the callback was told');
    assert.equal((await pool.query('SELECT 1 AS ok')).rows[0].ok, 1);
  });
});
