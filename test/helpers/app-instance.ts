/** Builds the real app in this process on a real pool, listens on port 0 with its metrics port beside it; closes everything in t.after. */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import type pg from 'pg';
import { loadConfig, type Config } from '../../app/config.js';
import { createPool } from '../../app/db.js';
import { createSessionStore, closeSessionStore } from '../../app/session.js';
import { createApp } from '../../app/app.js';
import { createMetrics } from '../../app/metrics.js';
import { closeMetricsServer, startMetricsServer } from '../../app/metrics-server.js';

/** A session secret made for this run: production refuses every value written in the repository (app/published-secrets.ts). */
export const generatedSecret = (): string => randomBytes(36).toString('base64url');

export const TEST_SECRET = generatedSecret();

export interface AppInstance {
  url: string;
  /** The metrics port's base URL (GET /metrics there). */
  metricsUrl: string;
  config: Config;
  pool: pg.Pool;
  server: Server;
}

export async function startApp(t: TestContext, databaseUrl: string, env: NodeJS.ProcessEnv = {}): Promise<AppInstance> {
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: databaseUrl, SESSION_SECRET: TEST_SECRET, INSTANCE_ID: 'in-process', ...env });
  const logger = pino({ level: 'silent' });
  const pool = createPool(config.database, () => {});
  const metrics = createMetrics(config.instanceId, pool);
  const store = createSessionStore(config, pool, () => {}, metrics.sessionStore);
  const server = createServer(createApp({ config, pool, store, logger, metrics }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const metricsServer = await startMetricsServer(metrics.registry, '127.0.0.1', 0);
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await closeSessionStore(store);
    await pool.end();
    await closeMetricsServer(metricsServer);
  });
  const portOf = (s: Server) => (s.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${portOf(server)}`, metricsUrl: `http://127.0.0.1:${portOf(metricsServer)}`, config, pool, server };
}
