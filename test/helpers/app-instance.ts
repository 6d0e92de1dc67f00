/** Starts the real app in this process (app/start-server.ts) on a real database, on free ports; stops it in t.after. */
import type { Server } from 'node:http';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import type pg from 'pg';
import { loadConfig, type Config } from '../../app/config.js';
import { startServer } from '../../app/start-server.js';
import { generatedSecret } from '../../infra/replica-env.js';

export const TEST_SECRET = generatedSecret();

export interface AppInstance {
  url: string;
  /** The metrics port's base URL (GET /metrics there). */
  metricsUrl: string;
  config: Config;
  pool: pg.Pool;
  server: Server;
}

/**
 * The startup checks are off: some tests start the app against a database that is down. Loopback only, no drain
 * on stop (no balancer to notice it).
 */
export async function startApp(t: TestContext, databaseUrl: string, env: NodeJS.ProcessEnv = {}): Promise<AppInstance> {
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    SESSION_SECRET: TEST_SECRET,
    INSTANCE_ID: 'in-process',
    HOST: '127.0.0.1',
    SHUTDOWN_DRAIN_MS: '0',
    ...env,
  });
  const running = await startServer(config, { logger: pino({ level: 'silent' }), startupChecks: false, anyPorts: true });
  t.after(() => running.stop());
  return { url: running.url, metricsUrl: running.metricsUrl!, config, pool: running.pool, server: running.server };
}
