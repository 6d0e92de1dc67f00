/**
 * Applies the SQL migrations in infra/migrations with node-pg-migrate (https://salsita.github.io/node-pg-migrate/).
 * Run once per deployment (`npm run migrate`, the compose `migrate` service, the k8s Job), never by each replica.
 * Concurrent runs are safe: each waits for node-pg-migrate's advisory lock (polling), then finds nothing left to do.
 */
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { loadConfig, ConfigError } from '../app/config.js';
import { createPool } from '../app/db.js';
import { MIGRATIONS_TABLE, migrationsDir } from '../app/schema-version.js';

/** node-pg-migrate's answer when another copy holds its lock, and its warning when this copy then releases none. */
const LOCK_TAKEN = /Another migration is already running|Failed to release migration lock/;
const LOCK_RETRY_MS = 250;

/** Applies every pending migration (or the first `count`, for tests of a schema behind the build); returns the names applied by this call. */
export async function migrate(
  env: NodeJS.ProcessEnv = process.env,
  log: (line: string) => void = () => {},
  count?: number,
): Promise<string[]> {
  const config = loadConfig(env);
  // Reuse the app's pool settings (TLS mode, UTC, timeouts) for one client; no statement timeout while waiting for the lock.
  const pool = createPool({ ...config.database, poolMax: 1, statementTimeoutMs: 0 }, () => {});
  const client = await pool.connect();
  try {
    // Copies that find the lock taken try again shortly, instead of waiting inside PostgreSQL (advisoryLockMode
    // 'wait'): a statement waiting there keeps a snapshot open, which CREATE INDEX CONCURRENTLY in the running copy
    // waits for, while that statement waits for the copy's lock: a deadlock.
    for (;;) {
      try {
        const applied = await runner({
          dbClient: client as pg.ClientBase,
          dir: migrationsDir,
          direction: 'up',
          migrationsTable: MIGRATIONS_TABLE,
          ...(count === undefined ? {} : { count }),
          advisoryLockMode: 'fail',
          checkOrder: true,
          log: (line) => LOCK_TAKEN.test(line) || log(line),
        });
        return applied.map((m) => m.name);
      } catch (err) {
        if (!LOCK_TAKEN.test((err as Error).message)) throw err;
        await sleep(LOCK_RETRY_MS);
      }
    }
  } finally {
    client.release();
    await pool.end();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    const applied = await migrate(process.env, () => {});
    console.log(applied.length ? `migrate: applied ${applied.join(', ')}` : 'migrate: database is up to date');
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : `migrate: failed: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
