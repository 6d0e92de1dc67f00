/**
 * Graceful shutdown as a sequence: fail readiness, keep serving while the balancer notices, stop accepting,
 * finish in-flight requests (bounded), stop the pruner, close the session store and the pool, then the metrics port.
 */
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Store } from 'express-session';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Lifecycle } from './routes/health.js';
import { closeSessionStore } from './session.js';
import { closeMetricsServer } from './metrics-server.js';
import type { SessionPruner } from './session-pruner.js';

export interface ShutdownDeps {
  server: Server;
  /** The metrics port's server (app/metrics-server.ts); absent with METRICS_PORT=0. */
  metricsServer?: Server;
  lifecycle: Lifecycle;
  store: Store;
  pool: pg.Pool;
  /** Absent with the memory store. */
  pruner?: SessionPruner;
  logger: Logger;
  drainMs: number;
  /** Longest wait for in-flight requests after the server stops accepting. */
  timeoutMs: number;
}

export async function shutdown({
  server,
  metricsServer,
  lifecycle,
  store,
  pool,
  pruner,
  logger,
  drainMs,
  timeoutMs,
}: ShutdownDeps): Promise<void> {
  lifecycle.draining = true;
  logger.info({ drainMs }, 'shutdown: readiness failing, draining');
  await sleep(drainMs);

  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  // Keep-alive connections that finish a request during the close would otherwise linger until their idle timeout.
  const sweep = setInterval(() => server.closeIdleConnections(), 100);
  const deadline = sleep(timeoutMs, 'timeout' as const);
  const outcome = await Promise.race([closed.then(() => 'closed' as const), deadline]);
  clearInterval(sweep);
  if (outcome === 'timeout') {
    logger.warn('shutdown: in-flight requests did not finish in time, closing their connections');
    server.closeAllConnections();
    await closed;
  }

  await pruner?.stop();
  await closeSessionStore(store);
  // Waits for queries still running (a request cut at the deadline): statement_timeout, or the pool's query
  // timeout just after it, bounds them.
  await pool.end();
  // Last, after the app server: Prometheus can still scrape the drain (in-flight requests, store errors) until here.
  if (metricsServer) await closeMetricsServer(metricsServer);
  logger.info('shutdown: complete');
}
