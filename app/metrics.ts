/** Prometheus metrics with prom-client (https://github.com/siimon/prom-client), one registry per app. */
import client from 'prom-client';
import type { RequestHandler } from 'express';
import type pg from 'pg';

export interface Metrics {
  registry: client.Registry;
  httpDuration: client.Histogram<'method' | 'route' | 'status'>;
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
    new client.Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
  }
  return { registry, httpDuration };
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
