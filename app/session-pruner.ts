/**
 * Deletes expired sessions once per interval for the whole fleet, instead of connect-pg-simple's DELETE on every
 * replica's own timer. Every replica has a jittered timer, but a firing prunes only if it wins an atomic claim on
 * the one-row table session_prune_state (migration 20261122000004); the others find the run not due.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import type { SessionStoreMetrics } from './metrics.js';
import { SESSION_TABLE } from './session-store.js';

/** A run stops after this many batches; what is left goes in the next interval. */
const MAX_BATCHES_PER_RUN = 100;

export interface PruneResult {
  deleted: number;
  batches: number;
  /** False when the run stopped at the batch limit with expired rows possibly left. */
  complete: boolean;
}

/**
 * True for exactly one caller per interval, fleet-wide. Concurrent UPDATEs of the row queue on its lock, and each
 * re-checks the WHERE once the one before commits, so only the first moves last_run.
 */
export async function claimPruneRun(pool: pg.Pool, intervalMs: number): Promise<boolean> {
  const { rowCount } = await pool.query(
    `UPDATE session_prune_state SET last_run = now() WHERE last_run <= now() - $1 * interval '1 millisecond'`,
    [intervalMs],
  );
  return rowCount === 1;
}

/** Deletes expired sessions in batches, each its own short statement, until a batch comes back short. */
export async function pruneExpiredSessions(
  pool: pg.Pool,
  { batchSize, maxBatches = MAX_BATCHES_PER_RUN }: { batchSize: number; maxBatches?: number },
): Promise<PruneResult> {
  let deleted = 0;
  for (let batches = 1; batches <= maxBatches; batches++) {
    // `expire` is a timestamp without time zone holding UTC, and uses its index here.
    const { rowCount } = await pool.query(
      `DELETE FROM "${SESSION_TABLE}" WHERE sid IN (
         SELECT sid FROM "${SESSION_TABLE}" WHERE expire < (now() AT TIME ZONE 'UTC') LIMIT $1
       )`,
      [batchSize],
    );
    deleted += rowCount ?? 0;
    if ((rowCount ?? 0) < batchSize) return { deleted, batches, complete: true };
  }
  return { deleted, batches: maxBatches, complete: false };
}

export interface PrunerOptions {
  pool: pg.Pool;
  intervalMs: number;
  batchSize: number;
  metrics: SessionStoreMetrics;
  logger: Logger;
}

export interface SessionPruner {
  /** Clears the timer and waits for a run in progress, so the pool can be ended after. */
  stop(): Promise<void>;
}

export function startSessionPruner({ pool, intervalMs, batchSize, metrics, logger }: PrunerOptions): SessionPruner {
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;

  const check = async () => {
    const started = Date.now();
    const done = metrics.startOperation('prune');
    try {
      if (!(await claimPruneRun(pool, intervalMs))) {
        metrics.pruneChecked('not_due');
        return;
      }
      const result = await pruneExpiredSessions(pool, { batchSize });
      done();
      metrics.pruneChecked('pruned', result.deleted);
      logger.info({ ...result, ms: Date.now() - started }, 'pruned expired sessions');
    } catch (err) {
      done(err);
      metrics.pruneChecked('failed');
      logger.warn({ err: { message: (err as Error).message, code: (err as { code?: string }).code } }, 'pruning expired sessions failed');
    }
  };

  const schedule = () => {
    if (stopped) return;
    // Firing twice per interval on average keeps the fleet's gap between runs near the interval; the jitter
    // spreads replicas that started together.
    timer = setTimeout(
      () => {
        running = check().finally(schedule);
      },
      intervalMs * (0.25 + Math.random() * 0.5),
    );
    // Never what keeps the process alive.
    timer.unref();
  };
  schedule();

  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
