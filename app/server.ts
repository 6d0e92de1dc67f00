/** Entry point: config, pool, startup checks, listen (app and metrics ports), the fleet-wide pruner, and graceful shutdown on SIGTERM/SIGINT. */
import { createServer, type Server } from 'node:http';
import closeWithGrace from 'close-with-grace';
import { pino } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createPool } from './db.js';
import { createSessionStore } from './session.js';
import { startSessionPruner } from './session-pruner.js';
import { createMetrics } from './metrics.js';
import { startMetricsServer } from './metrics-server.js';
import { createApp } from './app.js';
import { shutdown } from './shutdown.js';
import { answerClientErrors } from './http/client-errors.js';
import type { Lifecycle } from './routes/health.js';
import { schemaGate, waitForSchema } from './schema-version.js';
import { connectionBudgetWarning } from './connection-budget.js';

// Node must keep idle upstream connections open longer than nginx does (keepalive_timeout 60s in nginx.conf),
// or nginx may send a request on a socket Node is closing.
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(1);
}

const logger = pino({ level: config.logLevel, base: { instance: config.instanceId } });
for (const warning of config.warnings) logger.warn(warning);

const pool = createPool(config.database, (err) => logger.warn({ err: { message: err.message } }, 'idle database client failed'));
const metrics = createMetrics(config.instanceId, pool);
const store = createSessionStore(
  config,
  pool,
  (err) => logger.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'session store error'),
  metrics.sessionStore,
);

// Fail fast instead of serving with sessions that cannot be kept: no fallback to memory. A schema behind this build
// (the migration has not run yet) is waited for below, once the probes can answer.
const schema = schemaGate(pool);
let schemaBehind: string | undefined;
try {
  schemaBehind = await schema.behind();
} catch (err) {
  console.error(`Cannot use the database at startup: ${(err as Error).message}`);
  await pool.end().catch(() => {});
  process.exit(1);
}
const budgetWarning = await connectionBudgetWarning(pool, config.database.poolMax, config.expectedReplicas).catch(() => undefined);
if (budgetWarning) logger.warn(budgetWarning);

// Before the app port opens: a replica whose metrics port is taken stops here instead of serving unobserved.
let metricsServer: Server | undefined;
if (config.metricsPort) {
  try {
    metricsServer = await startMetricsServer(metrics.registry, config.host, config.metricsPort);
  } catch (err) {
    console.error(`Cannot serve metrics on ${config.host}:${config.metricsPort} (METRICS_PORT): ${(err as Error).message}`);
    await pool.end().catch(() => {});
    process.exit(1);
  }
  logger.info({ metricsPort: config.metricsPort }, `metrics on ${config.host}:${config.metricsPort}/metrics`);
}

const lifecycle: Lifecycle = { draining: false, schema };
// Host is checked by the app (requireHost), so that its 400 is JSON like every other error.
const server = createServer({ requireHostHeader: false }, createApp({ config, pool, store, logger, lifecycle, metrics }));
server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
server.requestTimeout = 30_000;
answerClientErrors(server, config.instanceId);

server.listen(config.port, config.host, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ port, store: config.session.store }, `listening on ${config.host}:${port}`);
});

const gaveUp = schemaBehind && (await waitForSchema(schema, schemaBehind, config.schemaWaitMs, logger));
if (gaveUp) {
  console.error(gaveUp);
  process.exit(1);
}

const pruner =
  config.session.store === 'postgres'
    ? startSessionPruner({ pool, ...config.session.prune, metrics: metrics.sessionStore, logger })
    : undefined;

const { drainMs, timeoutMs } = config.shutdown;
// After the in-flight deadline, queries of cut requests may still run until statement_timeout (or the pool's
// client-side query timeout, 1 s later); then a margin.
const hardLimitMs = drainMs + timeoutMs + config.database.statementTimeoutMs + 2_000;
closeWithGrace({ delay: hardLimitMs, logger }, async ({ signal, err }) => {
  if (err) logger.error({ err }, 'fatal error, shutting down');
  else logger.info({ signal }, 'shutting down');
  await shutdown({ server, metricsServer, lifecycle, store, pool, pruner, logger, drainMs, timeoutMs });
});
