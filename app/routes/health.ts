/** Liveness (no database), readiness (database reachable and not draining), and Prometheus metrics. */
import { Router } from 'express';
import type pg from 'pg';
import type { Metrics } from '../metrics.js';

export interface Lifecycle {
  /** Set when shutdown starts: readiness fails so the balancer stops sending new work. */
  draining: boolean;
}

export function healthRoutes(pool: pg.Pool, lifecycle: Lifecycle, metrics: Metrics): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    if (lifecycle.draining) return void res.status(503).json({ status: 'draining' });
    try {
      await pool.query('SELECT 1');
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'database unreachable' });
    }
  });
  router.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return router;
}
