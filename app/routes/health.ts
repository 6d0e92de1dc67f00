/** Liveness (no database) and readiness (database reachable and not draining). Metrics have their own port (app/metrics-server.ts). */
import { Router } from 'express';
import type pg from 'pg';
import type { SchemaGate } from '../schema-version.js';

export interface Lifecycle {
  /** Set when shutdown starts: readiness fails so the balancer stops sending new work. */
  draining: boolean;
  /** The schema this build needs: readiness fails until the database has it. */
  schema?: SchemaGate;
}

export function healthRoutes(pool: pg.Pool, lifecycle: Lifecycle): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    if (lifecycle.draining) return void res.status(503).json({ status: 'draining' });
    try {
      const behind = await lifecycle.schema?.behind();
      if (behind) return void res.status(503).json({ status: 'schema behind', reason: `${behind}: waiting for the migration` });
      await pool.query('SELECT 1');
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'database unreachable' });
    }
  });
  return router;
}
