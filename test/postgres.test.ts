import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createDatabase, startPostgres, type PostgresHandle, type StartPostgresOptions } from '../infra/postgres.js';

// Every test passes an explicit env, so none depends on the caller's DATABASE_URL.
const embedded = { env: {}, useContainers: false } satisfies StartPostgresOptions;
const limits = { timeout: 90_000 };

async function query<T extends pg.QueryResultRow = Record<string, unknown>>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Cleanups run last-registered first (a server stops before its folder goes), even when the test failed. */
function cleanup(t: TestContext): (fn: () => Promise<unknown>) => void {
  const fns: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const fn of fns.reverse()) await fn();
  });
  return (fn) => fns.push(fn);
}

async function start(defer: ReturnType<typeof cleanup>, opts: StartPostgresOptions): Promise<PostgresHandle> {
  const handle = await startPostgres(opts);
  defer(() => handle.stop());
  return handle;
}

async function tempFolder(defer: ReturnType<typeof cleanup>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'postgres-test-'));
  await chmod(dir, 0o755); // as root the server runs as the `postgres` OS user, which must traverse it
  defer(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !condition(); await new Promise((r) => setTimeout(r, 50))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
  }
}

async function postmasterPid(dataDir: string): Promise<number> {
  return Number.parseInt((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]!, 10);
}

const containerEngine = await import('testcontainers')
  .then((tc) => tc.getContainerRuntimeClient())
  .then(
    () => true,
    () => false,
  );

test('When DATABASE_URL is set, then it is used as is', async () => {
  const url = 'postgres://someone:secret@db.example.invalid:5433/whatever?sslmode=require';
  const handle = await startPostgres({ env: { DATABASE_URL: url } });
  assert.equal(handle.url, url);
  assert.equal(handle.source, 'env');
  await assert.rejects(handle.pause(), /DATABASE_URL/);
  await assert.rejects(handle.resume(), /DATABASE_URL/);
  await handle.stop();
  await handle.stop();
});

test(
  'When no DATABASE_URL and no container engine, then an embedded Postgres answers queries and is removed on stop',
  { ...limits, skip: containerEngine && 'a container engine answers here, so Testcontainers would be used' },
  async (t) => {
    const defer = cleanup(t);
    const lines: string[] = [];
    const began = Date.now();
    const handle = await start(defer, { env: {}, log: (line) => lines.push(line) });
    t.diagnostic(`probe + initdb + start took ${Date.now() - began} ms`);

    assert.equal(handle.source, 'embedded');
    assert.match(handle.url, /^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/app$/);
    assert.ok(
      lines.some((line) => /^postgres: embedded PostgreSQL 17 on 127\.0\.0\.1:\d+ \(data in /.test(line)),
      lines.join('\n'),
    );
    const [row] = await query(
      handle.url,
      `SELECT current_database() AS db, current_setting('server_version_num')::int AS version,
      current_setting('listen_addresses') AS listen, current_setting('data_directory') AS data`,
    );
    assert.equal(row?.db, 'app');
    assert.ok(Number(row?.version) >= 170000);
    assert.equal(row?.listen, '127.0.0.1');
    const dataDir = String(row?.data);
    const pid = await postmasterPid(dataDir);

    await handle.stop();
    assert.equal(isAlive(pid), false, 'the server process is gone');
    assert.equal(existsSync(path.dirname(dataDir)), false, 'the temp dir is removed');
    await assert.rejects(query(handle.url, 'SELECT 1'));
    await handle.stop(); // idempotent
  },
);

test('When a data dir is given, then data written survives stop and a second start', limits, async (t) => {
  const defer = cleanup(t);
  const dataDir = path.join(await tempFolder(defer), 'pg');

  const first = await start(defer, { ...embedded, dataDir });
  await query(first.url, `CREATE TABLE notes (text text); INSERT INTO notes VALUES ('kept')`);
  await first.stop();
  assert.ok(existsSync(path.join(dataDir, 'PG_VERSION')), 'the data dir is kept');

  const second = await start(defer, { ...embedded, dataDir });
  assert.deepEqual(await query(second.url, 'SELECT text FROM notes'), [{ text: 'kept' }]);
});

test('When paused, connections fail; when resumed, the same URL answers again', limits, async (t) => {
  const defer = cleanup(t);
  const handle = await start(defer, embedded);
  await query(handle.url, `CREATE TABLE notes (text text); INSERT INTO notes VALUES ('kept')`);

  await handle.pause();
  await assert.rejects(query(handle.url, 'SELECT 1'), /ECONNREFUSED/);
  await handle.resume();
  assert.deepEqual(await query(handle.url, 'SELECT text FROM notes'), [{ text: 'kept' }]);
});

test('When the server crashed and left a stale postmaster.pid, then the next start still works', limits, async (t) => {
  const defer = cleanup(t);
  const dataDir = path.join(await tempFolder(defer), 'pg');
  const crashed = await start(defer, { ...embedded, dataDir });
  await query(crashed.url, `CREATE TABLE notes (text text); INSERT INTO notes VALUES ('kept')`);

  const pid = await postmasterPid(dataDir);
  process.kill(pid, 'SIGKILL'); // the server this test started
  await waitFor('the killed server to exit', () => !isAlive(pid));
  await crashed.stop(); // must not hang on a dead server
  assert.ok(existsSync(path.join(dataDir, 'postmaster.pid')), 'the crash left its pid file behind');

  const restarted = await start(defer, { ...embedded, dataDir });
  assert.deepEqual(await query(restarted.url, 'SELECT text FROM notes'), [{ text: 'kept' }]);
});

test('When postmaster.pid names a live process that is not Postgres (a reused pid), then start still works', limits, async (t) => {
  const defer = cleanup(t);
  const dataDir = path.join(await tempFolder(defer), 'pg');
  const first = await start(defer, { ...embedded, dataDir });
  const pidFile = path.join(dataDir, 'postmaster.pid');
  const lines = (await readFile(pidFile, 'utf8')).split('\n');
  await first.stop();

  // As the server's OS user: postgres treats a pid it may not signal (EPERM) as stale already.
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }));
  const sameUser = process.getuid?.() === 0 ? { uid: id('-u'), gid: id('-g') } : {};
  const other = spawn('sleep', ['60'], { stdio: 'ignore', ...sameUser });
  defer(async () => other.kill());
  await writeFile(pidFile, [String(other.pid), ...lines.slice(1)].join('\n'));
  const second = await start(defer, { ...embedded, dataDir });
  assert.deepEqual(await query(second.url, 'SELECT 1 AS one'), [{ one: 1 }]);
});

test('When createDatabase is called, then a new empty database on the same server answers', limits, async (t) => {
  const defer = cleanup(t);
  const handle = await start(defer, embedded);

  const url = await createDatabase(handle.url, 'isolated_test');
  assert.equal(url, handle.url.replace(/\/app$/, '/isolated_test'));
  const [row] = await query(
    url,
    `SELECT current_database() AS db, (SELECT count(*)::int FROM pg_tables WHERE schemaname = 'public') AS tables`,
  );
  assert.deepEqual(row, { db: 'isolated_test', tables: 0 });
  await assert.rejects(createDatabase(handle.url, 'isolated_test'), /already exists/);
  await assert.rejects(createDatabase(handle.url, 'Robert"); DROP'), /invalid database name/);
});
