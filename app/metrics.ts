/** Prometheus metrics with prom-client (https://github.com/siimon/prom-client), one registry per app. */
import client from 'prom-client';
import type { RequestHandler } from 'express';
import type pg from 'pg';

const STORE_OPERATIONS = ['get', 'set', 'touch', 'destroy', 'prune'] as const;
/** pruned: this replica won the fleet-wide claim and pruned; not_due: another replica pruned within the interval. */
const PRUNE_OUTCOMES = ['pruned', 'not_due', 'failed'] as const;
export type StoreOperation = (typeof STORE_OPERATIONS)[number];
export type PruneOutcome = (typeof PRUNE_OUTCOMES)[number];

/** What the session store (app/session-store.ts) and the pruner (app/session-pruner.ts) report. */
export interface SessionStoreMetrics {
  /** Starts timing one store operation; call the result when it ends, with the error if it failed. */
  startOperation(operation: StoreOperation): (err?: unknown) => void;
  touchSkipped(): void;
  /** One coalesced read query was sent, for `size` sessions. */
  readBatch(size: number): void;
  pruneChecked(outcome: PruneOutcome, deleted?: number): void;
}

/** For a store built without a registry (in-process test apps). */
export const noStoreMetrics: SessionStoreMetrics = {
  startOperation: () => () => {},
  touchSkipped() {},
  readBatch() {},
  pruneChecked() {},
};

/** What the password hashing limiter (app/passwords.ts) reports. */
export interface PasswordHashMetrics {
  /** Where the gauges read the limiter's current load, at each scrape. */
  watch(load: () => { running: number; queued: number }): void;
  /** A hash refused because every slot and the whole queue were taken (the request got 503 + Retry-After). */
  rejected(): void;
}

export interface Metrics {
  registry: client.Registry;
  httpDuration: client.Histogram<'method' | 'route' | 'status'>;
  sessionStore: SessionStoreMetrics;
  passwordHashes: PasswordHashMetrics;
}

export function createMetrics(instance: string, pool: pg.Pool): Metrics {
  const registry = new client.Registry();
  registry.setDefaultLabels({ instance });
  client.collectDefaultMetrics({ register: registry });
  const httpDuration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  for (const [name, help, read] of [
    ['pg_pool_total_connections', 'Connections in the pg pool', () => pool.totalCount],
    ['pg_pool_idle_connections', 'Idle connections in the pg pool', () => pool.idleCount],
    ['pg_pool_waiting_clients', 'Queries waiting for a pg connection', () => pool.waitingCount],
  ] as const) {
    new client.Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  }
  return { registry, httpDuration, sessionStore: sessionStoreMetrics(registry), passwordHashes: passwordHashMetrics(registry) };
}

function passwordHashMetrics(registry: client.Registry): PasswordHashMetrics {
  let load = () => ({ running: 0, queued: 0 });
  new client.Gauge({
    name: 'password_hashes_running',
    help: 'scrypt hashes running now (at most PASSWORD_HASH_CONCURRENCY)',
    registers: [registry],
    collect() {
      this.set(load().running);
    },
  });
  new client.Gauge({
    name: 'password_hashes_queued',
    help: 'scrypt hashes waiting for a slot (at most PASSWORD_HASH_QUEUE)',
    registers: [registry],
    collect() {
      this.set(load().queued);
    },
  });
  const rejected = new client.Counter({
    name: 'password_hashes_rejected_total',
    help: 'Requests answered 503 + Retry-After because the password hashing queue was full',
    registers: [registry],
  });
  return {
    watch(read) {
      load = read;
    },
    rejected: () => rejected.inc(),
  };
}

function sessionStoreMetrics(registry: client.Registry): SessionStoreMetrics {
  const duration = new client.Histogram({
    name: 'session_store_operation_duration_seconds',
    help: 'Session store operations that reached PostgreSQL, by operation (prune: one whole run)',
    labelNames: ['operation'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const errors = new client.Counter({
    name: 'session_store_errors_total',
    help: 'Session store operations that failed, by operation',
    labelNames: ['operation'] as const,
    registers: [registry],
  });
  const skipped = new client.Counter({
    name: 'session_store_touches_skipped_total',
    help: 'Touches not written because the stored expiry was within SESSION_TOUCH_AFTER_SECONDS of the new one',
    registers: [registry],
  });
  const batchSizes = new client.Histogram({
    name: 'session_store_read_batch_size',
    help: 'Sessions read by one coalesced query (reads started in the same event-loop turn)',
    buckets: [1, 2, 4, 8, 16, 32, 64, 100],
    registers: [registry],
  });
  const pruneRuns = new client.Counter({
    name: 'session_prune_checks_total',
    help: 'Prune timer firings on this replica: pruned (won the fleet-wide claim), not_due (another replica pruned), failed',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const pruned = new client.Counter({
    name: 'session_pruned_total',
    help: 'Expired sessions deleted by this replica',
    registers: [registry],
  });
  // Every series exists from the start, so dashboards and rate() see zeros rather than gaps.
  for (const operation of STORE_OPERATIONS) errors.inc({ operation }, 0);
  for (const outcome of PRUNE_OUTCOMES) pruneRuns.inc({ outcome }, 0);

  return {
    startOperation(operation) {
      const end = duration.startTimer({ operation });
      return (err) => {
        end();
        if (err) errors.inc({ operation });
      };
    },
    touchSkipped: () => skipped.inc(),
    readBatch: (size) => batchSizes.observe(size),
    pruneChecked(outcome, deleted = 0) {
      pruneRuns.inc({ outcome });
      pruned.inc(deleted);
    },
  };
}

/** Times each request; the route label is the matched Express path, never the raw URL (bounded cardinality). */
export function timeRequests(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const end = metrics.httpDuration.startTimer({ method: req.method });
    res.once('finish', () => {
      const route = typeof req.route?.path === 'string' ? req.route.path : 'unmatched';
      end({ route, status: String(res.statusCode) });
    });
    next();
  };
}
