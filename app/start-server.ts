/**
 * Starts one replica from a parsed config: pool, session store, startup checks, the metrics port, the app port with
 * its timeouts and client-error answers, the wait for the schema, the fleet-wide pruner. Returns what is running and
 * the shutdown sequence. app/server.ts (production), the bench's replicas and the in-process tests all start here.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Store } from 'express-session';
import type pg from 'pg';
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';
import { createPool } from './db.js';
import { createSessionStore } from './session.js';
import { startSessionPruner, type SessionPruner } from './session-pruner.js';
import { createMetrics, type Metrics } from './metrics.js';
import { closeMetricsServer, startMetricsServer } from './metrics-server.js';
import { createApp } from './app.js';
import { shutdown } from './shutdown.js';
import { answerClientErrors } from './http/client-errors.js';
import type { Lifecycle } from './routes/health.js';
import { schemaGate, waitForSchema } from './schema-version.js';
import { connectionBudgetWarning } from './connection-budget.js';

// Node must keep idle upstream connections open longer than nginx does (keepalive_timeout 60s in nginx.conf),
// or nginx may send a request on a socket Node is closing.
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
const REQUEST_TIMEOUT_MS = 30_000;

/** The replica cannot start; the message is the one line to print. */
export class StartupError extends Error {}

export interface ServerDeps {
  logger?: Logger;
  /** Another session store (the bench's MemoryStore, connect-pg-simple, connect-redis); then no pruner of ours runs. */
  createStore?: (pool: pg.Pool, logger: Logger) => Promise<Store>;
  /**
   * Fail fast when the database cannot be used at startup, and wait for the schema (default). Off only for tests that
   * start a replica against a database that is down, to see what it answers.
   */
  startupChecks?: boolean;
  /** Both ports on any free port (tests); METRICS_PORT=0 still means no metrics port. */
  anyPorts?: boolean;
}

export interface RunningServer {
  url: string;
  /** The metrics port's base URL (GET /metrics there); absent with METRICS_PORT=0. */
  metricsUrl?: string;
  server: Server;
  pool: pg.Pool;
  store: Store;
  metrics: Metrics;
  logger: Logger;
  /** The shutdown sequence (app/shutdown.ts) with the config's drain and timeout. */
  stop(): Promise<void>;
}

export async function startServer(config: Config, deps: ServerDeps = {}): Promise<RunningServer> {
  const logger = deps.logger ?? pino({ level: config.logLevel, base: { instance: config.instanceId } });
  for (const warning of config.warnings) logger.warn(warning);
  const startupChecks = deps.startupChecks ?? true;

  const pool = createPool(config.database, (err) => logger.warn({ err: { message: err.message } }, 'idle database client failed'));
  const metrics = createMetrics(config.instanceId, pool);
  const ownStore = !deps.createStore;
  const store = deps.createStore
    ? await deps.createStore(pool, logger)
    : createSessionStore(
        config,
        pool,
        (err) => logger.warn({ err: { message: err.message, code: (err as { code?: string }).code } }, 'session store error'),
        metrics.sessionStore,
      );
  const failStart = async (message: string): Promise<never> => {
    await pool.end().catch(() => {});
    throw new StartupError(message);
  };

  // Fail fast instead of serving with sessions that cannot be kept: no fallback to memory. A schema behind this build
  // (the migration has not run yet) is waited for below, once the probes can answer.
  const schema = schemaGate(pool);
  let schemaBehind: string | undefined;
  if (startupChecks) {
    try {
      schemaBehind = await schema.behind();
    } catch (err) {
      await failStart(`Cannot use the database at startup: ${(err as Error).message}`);
    }
    const budgetWarning = await connectionBudgetWarning(pool, config.database.poolMax, config.expectedReplicas).catch(() => undefined);
    if (budgetWarning) logger.warn(budgetWarning);
  }

  // Before the app port opens: a replica whose metrics port is taken stops here instead of serving unobserved.
  let metricsServer: Server | undefined;
  if (config.metricsPort) {
    const port = deps.anyPorts ? 0 : config.metricsPort;
    try {
      metricsServer = await startMetricsServer(metrics.registry, config.host, port);
    } catch (err) {
      await failStart(`Cannot serve metrics on ${config.host}:${port} (METRICS_PORT): ${(err as Error).message}`);
    }
    logger.info({ metricsPort: portOf(metricsServer!) }, `metrics on ${config.host}:${portOf(metricsServer!)}/metrics`);
  }

  const lifecycle: Lifecycle = { draining: false, ...(startupChecks && { schema }) };
  // Host is checked by the app (requireHost), so that its 400 is JSON like every other error.
  const server = createServer({ requireHostHeader: false }, createApp({ config, pool, store, logger, lifecycle, metrics }));
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  answerClientErrors(server, config.instanceId);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(deps.anyPorts ? 0 : config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (err: Error) => {
    if (metricsServer) await closeMetricsServer(metricsServer);
    await failStart(`Cannot listen on ${config.host}:${config.port} (PORT): ${err.message}`);
  });
  const port = portOf(server);
  logger.info({ port, store: config.session.store }, `listening on ${config.host}:${port}`);

  const gaveUp = schemaBehind && (await waitForSchema(schema, schemaBehind, config.schemaWaitMs, logger));
  if (gaveUp) {
    server.close();
    if (metricsServer) await closeMetricsServer(metricsServer);
    await failStart(gaveUp);
  }

  const pruner: SessionPruner | undefined =
    ownStore && config.session.store === 'postgres'
      ? startSessionPruner({ pool, ...config.session.prune, metrics: metrics.sessionStore, logger })
      : undefined;

  const { drainMs, timeoutMs } = config.shutdown;
  const base = (p: number) => `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${p}`;
  return {
    url: base(port),
    metricsUrl: metricsServer && base(portOf(metricsServer)),
    server,
    pool,
    store,
    metrics,
    logger,
    stop: () => shutdown({ server, metricsServer, lifecycle, store, pool, pruner, logger, drainMs, timeoutMs }),
  };
}

const portOf = (s: Server) => (s.address() as AddressInfo).port;
