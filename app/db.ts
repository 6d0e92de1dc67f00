/** The pg pool the app owns (https://node-postgres.com/apis/pool). */
import pg from 'pg';
import type { ConnectionOptions } from 'node:tls';
import type { DatabaseConfig } from './config.js';

function tlsOptions(ssl: DatabaseConfig['ssl']): boolean | ConnectionOptions {
  switch (ssl.mode) {
    case 'disable':
      return false;
    // libpq's meaning of `require`: encrypted, server not verified. Only ever chosen by name.
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-full':
      return { rejectUnauthorized: true, ca: ssl.ca };
  }
}

const QUERY_TIMEOUT_MARGIN_MS = 1_000;

/** The pool's application_name: its backends can be found in pg_stat_activity. */
export const APPLICATION_NAME = 'express-pg-sessions';

export function createPool(db: DatabaseConfig, onIdleError: (err: Error) => void): pg.Pool {
  const pool = new pg.Pool({
    connectionString: db.connectionString,
    ssl: tlsOptions(db.ssl),
    max: db.poolMax,
    connectionTimeoutMillis: db.connectTimeoutMs,
    idleTimeoutMillis: db.idleTimeoutMs,
    statement_timeout: db.statementTimeoutMs,
    // statement_timeout is enforced by the server, so a server that cannot answer at all (frozen, partitioned) leaves
    // the query, and its request, hanging. The client gives up a little later; the pool then discards that client.
    query_timeout: db.statementTimeoutMs ? db.statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS : undefined,
    // connect-pg-simple writes `expire` (timestamp without time zone) from Node's clock: keep the session in UTC.
    options: '-c TimeZone=UTC',
    application_name: APPLICATION_NAME,
  });
  // A backend that dies while idle (restart, failover) emits 'error' on the pool; unhandled, it would crash the process.
  pool.on('error', onIdleError);
  return pool;
}

/** Runs `work` on one client inside one transaction: COMMIT when it returns, ROLLBACK when it throws. */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
