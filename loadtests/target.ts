/**
 * What the load tests run against: any running deployment (--url), or a local cluster started here through the
 * programmatic API (infra/cluster.ts) on a throwaway PostgreSQL, stopped afterwards. Only the local cluster can
 * restart replicas and PostgreSQL, which the restart scenarios need.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { startPostgres, type PostgresHandle } from '../infra/postgres.js';
import { migrate } from '../infra/migrate.js';
import { startCluster, type Cluster, type ClusterOptions } from '../infra/cluster.js';
import { freePort } from '../infra/ports.js';

/**
 * scrypt cost of the replicas of the traffic scenarios and the bench, which log in hundreds of users before they
 * measure something else (the app's default is 16384). The memory, login-storm and soak scenarios run at the app's
 * own cost unless --scrypt-cost says otherwise.
 */
export const LOAD_TEST_SCRYPT_COST = 1024;

export interface LocalControls {
  postgres: PostgresHandle;
  /** The cluster now serving `url` (a new one after restartCluster). */
  cluster(): Cluster;
  /** Stops every replica and nginx. */
  stopCluster(): Promise<void>;
  /** Starts the replicas and nginx again, on the same URL. */
  startCluster(): Promise<void>;
  /**
   * Another cluster on the same database (one replica with the memory store, replicas at production settings),
   * stopped by the caller; `more` adds settings to one replica, or runs other code (args: the compiled app).
   */
  startExtraCluster(
    env: NodeJS.ProcessEnv,
    replicas: number,
    name: string,
    more?: Pick<ClusterOptions, 'replicaEnv' | 'args'>,
  ): Promise<Cluster>;
  replicas: number;
}

export interface Target {
  url: string;
  /** Human-readable: "local cluster: 3 replicas behind nginx, embedded PostgreSQL" or the URL. */
  description: string;
  local?: LocalControls;
  stop(): Promise<void>;
}

/** A deployment started elsewhere: checked once, never stopped. */
export async function urlTarget(url: string): Promise<Target> {
  const res = await fetch(new URL('/healthz', url), { signal: AbortSignal.timeout(10_000) }).catch((err: Error) => {
    throw new Error(`cannot reach ${url}: ${err.message}`);
  });
  if (res.status !== 200) throw new Error(`${url}/healthz answered HTTP ${res.status}; is it this app?`);
  await res.body?.cancel();
  return { url, description: `${url} (started elsewhere: replicas and PostgreSQL cannot be restarted from here)`, stop: async () => {} };
}

export interface LocalOptions {
  replicas: number;
  logDir: string;
  log: (line: string) => void;
}

/** A throwaway PostgreSQL (never DATABASE_URL: the run writes 100,000s of sessions), migrations, N replicas, nginx. */
export async function localTarget({ replicas, logDir, log }: LocalOptions): Promise<Target> {
  mkdirSync(logDir, { recursive: true });
  const postgres = await startPostgres({ env: {}, log });
  const started: Cluster[] = [];
  const stopAll = async () => {
    for (const cluster of started) await cluster.stop().catch(() => {});
    await postgres.stop();
  };
  try {
    await migrate({ DATABASE_URL: postgres.url });
    const replicaEnv: NodeJS.ProcessEnv = {
      SESSION_SECRET: randomBytes(48).toString('base64url'),
      PASSWORD_SCRYPT_COST: String(LOAD_TEST_SCRYPT_COST),
      // Every virtual user comes from 127.0.0.1, and the throttle counts logins in flight per address.
      LOGIN_MAX_FAILURES_PER_IP: '1000000',
      LOG_LEVEL: 'warn',
    };
    const port = await freePort();
    const launch = async (
      env: NodeJS.ProcessEnv,
      count: number,
      dir: string,
      at: number,
      more?: Pick<ClusterOptions, 'replicaEnv' | 'args'>,
    ) => {
      const cluster = await startCluster({
        databaseUrl: postgres.url,
        replicas: count,
        port: at,
        env: { ...replicaEnv, ...env },
        ...more,
        logDir: dir,
        log,
      });
      started.push(cluster);
      return cluster;
    };
    let current = await launch({}, replicas, logDir, port);
    const url = current.url;
    return {
      url,
      description: `local cluster: ${replicas} replicas behind nginx, PostgreSQL ${postgres.source}, PASSWORD_SCRYPT_COST=${LOAD_TEST_SCRYPT_COST} for the traffic scenarios (login-storm, memory and soak start their own replicas at the app’s settings)`,
      local: {
        postgres,
        cluster: () => current,
        stopCluster: () => current.stop(),
        async startCluster() {
          current = await launch({}, replicas, logDir, port);
        },
        startExtraCluster: async (env, count, name, more) => launch(env, count, `${logDir}/${name}`, await freePort(), more),
        replicas,
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
