/** Builds the Express app from its dependencies. Never listens: app/server.ts does that. */
import { fileURLToPath } from 'node:url';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import type { Logger } from 'pino';
import type { Store } from 'express-session';
import type pg from 'pg';
import type { Config } from './config.js';
import { createMetrics, timeRequests, type Metrics } from './metrics.js';
import { sessionMiddleware } from './session.js';
import { createUsers } from './users.js';
import { createLoginThrottle } from './login-throttle.js';
import { errorHandler, notFound } from './http/errors.js';
import { jsonOnly } from './http/json-only.js';
import { requireHost } from './http/client-errors.js';
import { authRoutes } from './routes/auth.js';
import { meRoutes } from './routes/me.js';
import { cartRoutes } from './routes/cart.js';
import { createCarts } from './carts.js';
import { sessionRoutes } from './routes/sessions.js';
import { passwordRoutes } from './routes/password.js';
import { createUserSessions } from './user-sessions.js';
import { sessionHandles } from './session-handles.js';
import { createPasswordChange } from './password-change.js';
import { oidcRoutes } from './routes/oidc.js';
import { createIdentities } from './identities.js';
import { createPasswords } from './passwords.js';
import { connectionRoutes } from './routes/connections.js';
import { loggedUrl } from './http/logged-url.js';
import { healthRoutes, type Lifecycle } from './routes/health.js';
import { refuseUntilSchema } from './schema-version.js';
import './session-data.js';

export interface AppDeps {
  config: Config;
  pool: pg.Pool;
  store: Store;
  logger: Logger;
  lifecycle?: Lifecycle;
  /** The registry the store and pruner also report to; a fresh one when absent. */
  metrics?: Metrics;
}

const publicDir = fileURLToPath(new URL('./public', import.meta.url));
const JSON_LIMIT = '16kb';

export function createApp({
  config,
  pool,
  store,
  logger,
  lifecycle = { draining: false },
  metrics = createMetrics(config.instanceId, pool),
}: AppDeps): Express {
  const app = express();
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
        req: (req) => ({ id: req.id, method: req.method, url: loggedUrl(req.url) }),
        res: (res) => ({ statusCode: res.statusCode }),
      },
      autoLogging: { ignore: (req) => ['/healthz', '/readyz'].includes(req.url ?? '') },
    }),
  );
  app.use(timeRequests(metrics));
  // Plain HTTP is legitimate locally; upgrading subresources to https would break the page there.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  app.use(requireHost);
  app.use(healthRoutes(pool, lifecycle));
  app.use(refuseUntilSchema(lifecycle));

  // Routes carry their full path, so the metrics label is the route as written (and never the raw URL).
  app.use('/api', ...jsonOnly(JSON_LIMIT), sessionMiddleware(config, store));
  // Routers would answer OPTIONS themselves, in plain text. Same-origin only: no CORS, so no preflight succeeds.
  app.options('/api/{*path}', notFound);
  // One hashing limit for the replica: registration, login, password change and OIDC accounts share it.
  const passwords = createPasswords({ scryptCost: config.passwordScryptCost, ...config.passwordHashing }, metrics.passwordHashes);
  app.use(authRoutes(createUsers(pool), createLoginThrottle(pool, config.loginThrottle), config.session.cookieName, passwords));
  app.use(meRoutes(config.instanceId));
  app.use(oidcRoutes(config.oidc, createIdentities(pool, passwords), logger));
  app.use(cartRoutes(createCarts(pool)));
  app.use(connectionRoutes(config.connections, pool, logger));
  app.use(sessionRoutes(createUserSessions(pool), sessionHandles(config.session.secrets), config.session.cookieName));
  app.use(passwordRoutes(createUsers(pool), createPasswordChange(pool), createLoginThrottle(pool, config.loginThrottle), passwords));

  // After the API: otherwise every API request would first cost a failed file lookup (a stat under app/public).
  app.use(express.static(publicDir, { index: 'index.html', maxAge: '1h' }));
  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}
