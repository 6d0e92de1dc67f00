/**
 * Provides a real PostgreSQL for `npm start`, tests and load tests. First that applies wins:
 * 1. DATABASE_URL, used as is (deployments, CI services, your own server);
 * 2. a throwaway postgres:17-alpine container through Testcontainers, when a container engine answers;
 * 3. embedded PostgreSQL binaries (./embedded-postgres.ts), which need nothing installed.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startEmbedded } from './embedded-postgres.js';
import { freePort } from './ports.js';

export type PostgresSource = 'env' | 'testcontainers' | 'embedded';

export interface PostgresHandle {
  url: string; // postgres://user:pass@127.0.0.1:port/app
  source: PostgresSource;
  /** Stops the server but keeps its data (embedded and testcontainers only; throws a clear Error for 'env'). */
  pause(): Promise<void>;
  /** Starts it again after pause(), same URL/port. */
  resume(): Promise<void>;
  /** Stops and cleans up whatever this module started (temp dirs, containers). Idempotent. */
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  env?: NodeJS.ProcessEnv; // where DATABASE_URL is read from; default process.env
  dataDir?: string; // persistent data folder (embedded); default: temp dir removed on stop
  port?: number;
  log?: (line: string) => void; // progress lines such as "postgres: embedded PostgreSQL 17 on 127.0.0.1:54321 (data in ...)"
  serverLog?: (line: string) => void; // the embedded server's own log lines
  useContainers?: boolean; // default true; false skips the Testcontainers probe
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresHandle> {
  const log = opts.log ?? (() => {});
  const url = (opts.env ?? process.env).DATABASE_URL;
  if (url) {
    log('postgres: using DATABASE_URL');
    const notOurs = async () => {
      throw new Error('postgres: pause()/resume() are not possible with DATABASE_URL: that server is not ours to stop');
    };
    return { url, source: 'env', pause: notOurs, resume: notOurs, stop: async () => {} };
  }
  if (opts.useContainers !== false && (await containerEngineAnswers())) {
    if (opts.dataDir) log(`postgres: dataDir ${opts.dataDir} is not used with a container; its data is removed on stop`);
    return startContainer(opts.port, log);
  }
  return startEmbedded({ dataDir: opts.dataDir, port: opts.port, log: opts.log, serverLog: opts.serverLog });
}

/** Creates a fresh empty database on the server behind `url` and returns its URL (used by tests for isolation). */
export async function createDatabase(url: string, name: string): Promise<string> {
  // The name goes into SQL and into the URL's path: plain identifiers only.
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`postgres: invalid database name ${JSON.stringify(name)}`);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    // template0: empty whatever template1 holds, and never "being accessed by other users" when tests run in parallel.
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)} TEMPLATE template0`);
  } finally {
    await client.end();
  }
  const created = new URL(url);
  created.pathname = `/${name}`;
  return created.toString();
}

/** True when Testcontainers finds a container engine; false (quickly) when there is none or it does not answer. */
async function containerEngineAnswers(timeoutMs = 5_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers'); // on demand: ~0.5 s to load, a devDependency
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no answer')), timeoutMs);
    });
    await Promise.race([getContainerRuntimeClient(), timeout]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

async function startContainer(port: number | undefined, log: (line: string) => void): Promise<PostgresHandle> {
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import('testcontainers');
  // A fixed host port: Docker picks a new random host port when a stopped container starts again, and resume()
  // must keep the URL. (Chosen free on this machine, which is where a local engine publishes it.)
  const hostPort = port ?? (await freePort());
  // A password made per container: replicas run in production mode, which refuses values written in the repository.
  const password = randomBytes(18).toString('base64url');
  const container = await new GenericContainer('postgres:17-alpine')
    .withEnvironment({ POSTGRES_USER: 'postgres', POSTGRES_PASSWORD: password, POSTGRES_DB: 'app' })
    .withExposedPorts({ container: 5432, host: hostPort })
    // The image's first-run setup uses a temporary server without TCP, so this succeeds only once the real one is up.
    .withWaitStrategy(Wait.forSuccessfulCommand('pg_isready -h 127.0.0.1 -U postgres'))
    .withStartupTimeout(120_000)
    .start();
  const host = container.getHost() === 'localhost' ? '127.0.0.1' : container.getHost();
  const url = `postgres://postgres:${password}@${host}:${hostPort}/app`;
  log(`postgres: container postgres:17-alpine on ${host}:${hostPort} (removed on stop)`);

  // container.stop() removes the container, so pause/resume stop and start the same container through the engine API.
  const runtime = await getContainerRuntimeClient();
  const raw = runtime.container.getById(container.getId());
  let paused = false;
  let stopping: Promise<void> | undefined;
  return {
    url,
    source: 'testcontainers',
    async pause() {
      if (stopping) throw new Error('postgres: pause() after stop()');
      await runtime.container.stop(raw, { timeout: 10_000 }); // ms; the image's stop signal is a fast shutdown
      paused = true;
    },
    async resume() {
      if (stopping) throw new Error('postgres: resume() after stop()');
      if (!paused) return;
      await runtime.container.start(raw);
      await waitUntilAnswers(url, 60_000);
      paused = false;
    },
    stop: () => (stopping ??= container.stop().then(() => {})),
  };
}

async function waitUntilAnswers(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (err) {
      await client.end().catch(() => {});
      if (Date.now() > deadline) throw new Error(`postgres: ${url.replace(/:[^:@/]*@/, ':***@')} did not answer: ${err}`, { cause: err });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
