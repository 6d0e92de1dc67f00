/**
 * The bench's one PostgreSQL: embedded (its processes are local, so their CPU can be read from /proc), with
 * pg_stat_statements loaded, one database per variant so every count belongs to one variant, and the readings:
 * statements (pg_stat_statements, exact at once) and session row writes (pg_stat_user_tables, which backends flush
 * at most once a second, within 10 s when idle, and at exit).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createDatabase, startPostgres } from '../../infra/postgres.js';
import { migrate } from '../../infra/migrate.js';
import { APPLICATION_NAME } from '../../app/db.js';
import { readStat } from '../../infra/proc-stat.js';

export interface StatementCount {
  query: string;
  calls: number;
  rows: number;
  execMs: number;
}

export interface BenchPostgres {
  postmasterPid: number;
  version: string;
  /** A new migrated database (or only created, for pgbench) and its URL. */
  database(name: string, opts?: { migrated?: boolean }): Promise<string>;
  /** pg_stat_statements per database name, per statement. */
  statements(): Promise<Map<string, Map<string, StatementCount>>>;
  /** Waits until the app's backends on these databases have exited (flushing their counts), then reads each one's session row writes. */
  settledSessionWrites(databases: string[], log: (line: string) => void): Promise<Record<string, number>>;
  /** Bytes per stored session: `copies` copies of the median stored session in a scratch copy of the table, and the table as found. */
  sessionBytes(database: string, copies: number): Promise<{ fill: number; asFound: number; rowsFound: number; sessionJsonBytes: number }>;
  stop(): Promise<void>;
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'bench-stats' });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Adds `s` to the count of the same statement text in `into`. */
export function addStatement(into: Map<string, StatementCount>, s: StatementCount): void {
  const prev = into.get(s.query) ?? { query: s.query, calls: 0, rows: 0, execMs: 0 };
  into.set(s.query, { query: s.query, calls: prev.calls + s.calls, rows: prev.rows + s.rows, execMs: prev.execMs + s.execMs });
}

const urlOf = (serverUrl: string, name: string) => Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString();

/**
 * Session row writes (n_tup_ins + n_tup_upd + n_tup_del) per database on the server at `serverUrl`, read once the
 * app's backends there have exited: an exiting backend flushes its counts; an idle one may hold them up to 10 s.
 */
export async function settledSessionWrites(
  serverUrl: string,
  databases: string[],
  say: (line: string) => void,
  timeoutMs = 40_000,
): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  const sql = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND datname = ANY($2)`;
  for (;;) {
    const { rows } = await withClient(serverUrl, (c) => c.query<{ n: number }>(sql, [APPLICATION_NAME, databases]));
    const open = rows[0]!.n;
    if (open === 0) break;
    if (Date.now() > deadline) {
      say(`bench: ${open} app connections still open after ${timeoutMs / 1000} s; reading row writes anyway (they may miss the last 10 s)`);
      break;
    }
    await sleep(250);
  }
  const out: Record<string, number> = {};
  for (const name of databases) {
    out[name] = await withClient(urlOf(serverUrl, name), async (c) => {
      await c.query('SELECT pg_stat_clear_snapshot()');
      const { rows } = await c.query<{ writes: string }>(
        `SELECT n_tup_ins + n_tup_upd + n_tup_del AS writes FROM pg_stat_user_tables WHERE relname = 'session'`,
      );
      return Number(rows[0]?.writes ?? 0);
    });
  }
  return out;
}

export async function startBenchPostgres(log: (line: string) => void): Promise<BenchPostgres> {
  // Never DATABASE_URL or a container: the bench restarts the server and reads its processes' CPU time.
  const handle = await startPostgres({ env: {}, useContainers: false, log });
  try {
    await withClient(handle.url, async (c) => {
      await c.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`);
      // Five databases, each variant's pools (10 per replica) and pgbench's clients, with room to spare.
      await c.query('ALTER SYSTEM SET max_connections = 300');
    });
    await handle.pause();
    await handle.resume();
    const { postmasterPid, version } = await withClient(handle.url, async (c) => {
      await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      const { rows } = await c.query<{ pid: number; version: string }>(
        `SELECT pg_backend_pid() AS pid, current_setting('server_version') AS version`,
      );
      return { postmasterPid: readStat(rows[0]!.pid)?.ppid ?? 0, version: rows[0]!.version };
    });
    if (!postmasterPid) throw new Error('cannot find the postmaster process');

    return {
      postmasterPid,
      version,
      async database(name, { migrated = true } = {}) {
        const url = await createDatabase(handle.url, name);
        if (migrated) await migrate({ DATABASE_URL: url });
        return url;
      },
      statements: () =>
        withClient(handle.url, async (c) => {
          const { rows } = await c.query<{ datname: string; query: string; calls: string; rows: string; exec_ms: number }>(
            `SELECT d.datname, s.query, s.calls, s.rows, s.total_exec_time AS exec_ms
             FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid`,
          );
          const out = new Map<string, Map<string, StatementCount>>();
          // The same text can appear under several query ids (e.g. top-level and not): add them up.
          for (const r of rows) {
            const db = out.get(r.datname) ?? new Map<string, StatementCount>();
            const query = r.query.replace(/\s+/g, ' ').trim();
            addStatement(db, { query, calls: Number(r.calls), rows: Number(r.rows), execMs: r.exec_ms });
            out.set(r.datname, db);
          }
          return out;
        }),
      settledSessionWrites: (databases, say) => settledSessionWrites(handle.url, databases, say),
      sessionBytes: (database, copies) =>
        withClient(urlOf(handle.url, database), async (c) => {
          const found = await c.query<{ total: string; n: number }>(
            `SELECT pg_total_relation_size('session') AS total, (SELECT count(*)::int FROM session) AS n`,
          );
          const { rows: median } = await c.query<{ sess: string }>(
            `SELECT sess::text AS sess FROM session ORDER BY length(sess::text) OFFSET (SELECT count(*) / 2 FROM session) LIMIT 1`,
          );
          if (!median[0]) throw new Error(`${database}: no stored session to measure`);
          await c.query('DROP TABLE IF EXISTS session_sizing');
          await c.query('CREATE TABLE session_sizing (LIKE session INCLUDING ALL)');
          try {
            // Ids as long as express-session's (32 characters), expiry as the store writes it.
            await c.query(
              `INSERT INTO session_sizing (sid, sess, expire)
               SELECT md5(i::text), $1::json, (now() AT TIME ZONE 'UTC') + interval '30 days' FROM generate_series(1, $2::int) i`,
              [median[0].sess, copies],
            );
            await c.query('VACUUM ANALYZE session_sizing');
            const { rows } = await c.query<{ total: string }>(`SELECT pg_total_relation_size('session_sizing') AS total`);
            return {
              fill: Math.round(Number(rows[0]!.total) / copies),
              asFound: Math.round(Number(found.rows[0]!.total) / Math.max(1, found.rows[0]!.n)),
              rowsFound: found.rows[0]!.n,
              sessionJsonBytes: Buffer.byteLength(median[0].sess),
            };
          } finally {
            await c.query('DROP TABLE session_sizing');
          }
        }),
      stop: () => handle.stop(),
    };
  } catch (err) {
    await handle.stop();
    throw err;
  }
}
