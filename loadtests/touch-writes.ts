/**
 * Row writes to the session table per read-only request (GET /api/me): connect-pg-simple's touch on every read
 * (SESSION_TOUCH_AFTER_SECONDS=0) against the throttled touch (60). `npm run bench:touch [-- --reads 2000]` starts
 * its own PostgreSQL (DATABASE_URL if set: it then creates and drops a database per setting there), one replica per
 * setting, prints a table and writes results/touch-writes.json. measureTouchWrites() is also used by the tests.
 *
 * Writes are PostgreSQL's own count (pg_stat_user_tables: n_tup_ins + n_tup_upd + n_tup_del for `session`).
 * A backend sends its counts to the shared statistics at most once a second, or when it exits; so the replica's
 * pool closes idle connections after 1 s, and the counts are read once its backends are gone and the numbers hold.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createDatabase, startPostgres } from '../infra/postgres.js';
import { migrate } from '../infra/migrate.js';
import { freePort } from '../infra/ports.js';
import { startReplica, waitForReady } from '../infra/replica.js';
import { APPLICATION_NAME } from '../app/db.js';
import { LOAD_TEST_SCRYPT_COST } from './target.js';
import { toolReplicaEnv } from '../infra/replica-env.js';

export interface TouchWrites {
  touchAfterSeconds: number;
  reads: number;
  rowWrites: number;
  writesPerRead: number;
}

export interface MeasureOptions {
  /** A migrated database of its own: every write to its session table in the window is counted. */
  databaseUrl: string;
  touchAfterSeconds: number;
  reads: number;
  users?: number;
  concurrency?: number;
}

export async function measureTouchWrites({
  databaseUrl,
  touchAfterSeconds,
  reads,
  users = 4,
  concurrency = 8,
}: MeasureOptions): Promise<TouchWrites> {
  const replica = startReplica({
    port: await freePort(),
    env: toolReplicaEnv(databaseUrl, {
      SESSION_TOUCH_AFTER_SECONDS: String(touchAfterSeconds),
      PG_IDLE_TIMEOUT_MS: '1000',
      PASSWORD_SCRYPT_COST: String(LOAD_TEST_SCRYPT_COST),
    }),
  });
  const stats = new pg.Client({ connectionString: databaseUrl });
  try {
    await waitForReady(replica);
    await stats.connect();
    const cookies: string[] = [];
    for (let i = 0; i < users; i++) cookies.push(await register(replica.url));

    const before = await settledWrites(stats);
    let next = 0;
    const worker = async () => {
      while (next < reads) {
        const cookie = cookies[next++ % cookies.length]!;
        const res = await fetch(`${replica.url}/api/me`, { headers: { cookie } });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`GET /api/me answered ${res.status}`);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const rowWrites = (await settledWrites(stats)) - before;
    return { touchAfterSeconds, reads, rowWrites, writesPerRead: rowWrites / reads };
  } finally {
    await stats.end().catch(() => {});
    await replica.stop('SIGTERM');
  }
}

async function register(baseUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}/api/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: `bench-${randomBytes(6).toString('hex')}`, password: 'bench-password' }),
  });
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`register answered ${res.status}`);
  return res.headers.getSetCookie()[0]!.split(';')[0]!;
}

/** The session table's write count once the app's backends have exited (flushing their counts) and it holds still. */
async function settledWrites(client: pg.Client, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let previous: number | undefined;
  for (;;) {
    const { rows } = await client.query(
      `SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1)::int AS backends,
              (SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables WHERE relname = 'session')::int AS writes`,
      [APPLICATION_NAME],
    );
    // Discard this session's cached statistics snapshot, so the next read sees fresh numbers.
    await client.query('SELECT pg_stat_clear_snapshot()');
    const { backends, writes } = rows[0] as { backends: number; writes: number };
    if (backends === 0 && writes === previous) return writes;
    previous = backends === 0 ? writes : undefined;
    if (Date.now() > deadline) throw new Error(`the replica's connections did not close within ${timeoutMs} ms`);
    await sleep(300);
  }
}

async function main() {
  const { values } = parseArgs({ options: { reads: { type: 'string', default: '2000' } } });
  const reads = Number(values.reads);
  if (!Number.isInteger(reads) || reads < 1 || reads > 100_000) throw new Error('--reads must be a whole number from 1 to 100000');
  const postgres = await startPostgres({ log: (line) => console.log(line) });
  const results: TouchWrites[] = [];
  try {
    for (const touchAfterSeconds of [0, 60]) {
      const name = `bench_touch_${randomBytes(4).toString('hex')}`;
      const databaseUrl = await createDatabase(postgres.url, name);
      try {
        await migrate({ DATABASE_URL: databaseUrl });
        results.push(await measureTouchWrites({ databaseUrl, touchAfterSeconds, reads }));
      } finally {
        await dropDatabase(postgres.url, name);
      }
    }
  } finally {
    await postgres.stop();
  }
  console.log('\nSESSION_TOUCH_AFTER_SECONDS   reads   session row writes   writes per read');
  for (const r of results) {
    console.log(
      `${String(r.touchAfterSeconds).padEnd(30)}${String(r.reads).padEnd(8)}${String(r.rowWrites).padEnd(21)}${r.writesPerRead.toFixed(3)}`,
    );
  }
  const file = fileURLToPath(new URL('../results/touch-writes.json', import.meta.url));
  mkdirSync(fileURLToPath(new URL('../results', import.meta.url)), { recursive: true });
  const report = { measuredAt: new Date().toISOString(), node: process.version, postgres: postgres.source, results };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwritten to ${file}`);
}

async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: Error) => {
    console.error(`bench:touch: ${err.message}`);
    process.exitCode = 1;
  });
}
