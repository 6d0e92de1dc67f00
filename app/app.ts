/** Builds the Express app from its dependencies. Never listens: app/server.ts does that. */
import { fileURLToPath } from 'node:url';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import type { Logger } from 'pino';
import type { Store } from 'express-session';
import type pg from 'pg';
import type { Config } from './config.js';
import { createMetrics, timeRequests } from './metrics.js';
import { sessionMiddleware } from './session.js';
import { createUsers } from './users.js';
import { createLoginThrottle } from './login-throttle.js';
import { errorHandler, notFound } from './http/errors.js';
import { authRoutes } from './routes/auth.js';
import { meRoutes } from './routes/me.js';
import { cartRoutes } from './routes/cart.js';
import { healthRoutes, type Lifecycle } from './routes/health.js';
import './session-data.js';

export interface AppDeps {
  config: Config;
  pool: pg.Pool;
  store: Store;
  logger: Logger;
  lifecycle?: Lifecycle;
}

const publicDir = fileURLToPath(new URL('./public', import.meta.url));
const JSON_LIMIT = '16kb';

export function createApp({ config, pool, store, logger, lifecycle = { draining: false } }: AppDeps): Express {
  const app = express();
  const metrics = createMetrics(config.instanceId, pool);
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxyHops);

  app.use((_req, res, next) => {
    res.setHeader('X-Instance', config.instanceId);
    // While draining, ask clients (nginx) not to reuse this connection, so closing it later loses nothing.
    if (lifecycle.draining) res.setHeader('Connection', 'close');
    next();
  });
  app.use(
    pinoHttp({
      logger,
      genReqId: (req) => (req.headers['x-request-id'] as string | undefined)?.slice(0, 100) || crypto.randomUUID(),
      // Only what helps debugging: never cookies, tokens or bodies.
      serializers: {
        req: (req) => ({ id: req.id, method: req.method, url: req.url }),
        res: (res) => ({ statusCode: res.statusCode }),
      },
      autoLogging: { ignore: (req) => ['/healthz', '/readyz', '/metrics'].includes(req.url ?? '') },
    }),
  );
  app.use(timeRequests(metrics));
  // Plain HTTP is legitimate locally; upgrading subresources to https would break the page there.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  app.use(healthRoutes(pool, lifecycle, metrics));
  app.use(express.static(publicDir, { index: 'index.html', maxAge: '1h' }));

  // Routes carry their full path, so the metrics label is the route as written (and never the raw URL).
  app.use('/api', express.json({ limit: JSON_LIMIT }), sessionMiddleware(config, store));
  app.use(authRoutes(createUsers(pool), createLoginThrottle(pool, config.loginThrottle), config.session.cookieName, config.passwordScryptCost));
  app.use(meRoutes(config.instanceId));
  app.use(cartRoutes());

  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}
