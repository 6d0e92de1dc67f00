/**
 * A benchmark replica: this app (createApp) on another session store, so the bench compares stores and nothing else.
 * BENCH_STORE=memory (express-session's MemoryStore), pg-defaults (connect-pg-simple as it comes: touch on every
 * request, its own prune timer) or redis (connect-redis on REDIS_URL, its defaults). The rest of the environment is
 * the app's (app/config.ts). This project's own configuration is app/server.ts itself, not this file.
 */
import { createServer } from 'node:http';
import session, { type Store } from 'express-session';
import connectPgSimple from 'connect-pg-simple';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import { pino } from 'pino';
import type pg from 'pg';
import { loadConfig } from '../../app/config.js';
import { createPool } from '../../app/db.js';
import { createApp } from '../../app/app.js';
import { shutdown } from '../../app/shutdown.js';
import { createMetrics } from '../../app/metrics.js';
import { startMetricsServer } from '../../app/metrics-server.js';

const kind = process.env.BENCH_STORE;
if (kind !== 'memory' && kind !== 'pg-defaults' && kind !== 'redis') {
  console.error('BENCH_STORE must be memory, pg-defaults or redis');
  process.exit(1);
}

const config = loadConfig();
const logger = pino({ level: config.logLevel, base: { instance: config.instanceId } });
const pool = createPool(config.database, (err) => logger.warn({ err: { message: err.message } }, 'idle database client failed'));

/** The store, and what to close after it (the Redis connection; the pool is closed by shutdown()). */
async function buildStore(db: pg.Pool): Promise<{ store: Store; after?: () => Promise<unknown> }> {
  if (kind === 'memory') return { store: new session.MemoryStore() };
  // Only what the migration already decided (table name, no table creation); everything else is the default.
  if (kind === 'pg-defaults') return { store: new (connectPgSimple(session))({ pool: db, tableName: 'session', createTableIfMissing: false }) };
  const client = createClient({ url: process.env.REDIS_URL });
  client.on('error', (err: Error) => logger.warn({ err: { message: err.message } }, 'redis client error'));
  await client.connect();
  return { store: new RedisStore({ client }), after: () => client.quit() };
}

const { store, after } = await buildStore(pool);
const lifecycle = { draining: false };
const metrics = createMetrics(config.instanceId, pool);
const server = createServer(createApp({ config, pool, store, logger, lifecycle, metrics }));
// As app/server.ts: idle upstream connections must outlive nginx's keepalive_timeout (60 s).
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(config.port, config.host);
// As app/server.ts: the same app serves the same metrics on their own port (METRICS_PORT; infra/replica.ts sets it).
const metricsServer = config.metricsPort ? await startMetricsServer(metrics.registry, config.host, config.metricsPort) : undefined;

process.once('SIGTERM', () => {
  void shutdown({ server, metricsServer, lifecycle, store, pool, logger, drainMs: 0, timeoutMs: 5_000 })
    .then(after)
    .finally(() => process.exit(0));
});
