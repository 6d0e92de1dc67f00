/** A local cluster (infra/cluster.ts) for a test: real replicas behind real nginx, its logs in a temporary folder. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../../infra/cluster.js';
import { freePort } from '../../infra/ports.js';
import { TEST_SECRET } from './app-instance.js';
import { migratedDatabase } from './database.js';

export interface TestClusterOptions {
  replicas: number;
  /** Replica settings on top of the test secret (LOG_LEVEL is the cluster's `info` unless given). */
  env?: NodeJS.ProcessEnv;
  /** Default: a new migrated database. */
  databaseUrl?: string;
  /** nginx's port; default: a free one. */
  port?: number;
  /** Also write the cluster's state file, as `npm start` does (at `<logDir>/state.json`). */
  stateFile?: boolean;
}

/** The cluster, and the folder of its logs; stop() stops it, then removes the folder. */
export async function startTestCluster(opts: TestClusterOptions): Promise<Cluster & { logDir: string }> {
  const logDir = mkdtempSync(join(tmpdir(), 'test-cluster-'));
  try {
    const cluster = await startCluster({
      databaseUrl: opts.databaseUrl ?? (await migratedDatabase()),
      replicas: opts.replicas,
      port: opts.port ?? (await freePort()),
      env: { SESSION_SECRET: TEST_SECRET, ...opts.env },
      logDir,
      stateFile: opts.stateFile ? join(logDir, 'state.json') : undefined,
    });
    return {
      ...cluster,
      logDir,
      async stop() {
        await cluster.stop();
        rmSync(logDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(logDir, { recursive: true, force: true });
    throw err;
  }
}
