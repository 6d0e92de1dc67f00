/**
 * express-session (https://github.com/expressjs/session) on connect-pg-simple with a throttled touch
 * (./session-store.ts), or on MemoryStore outside production.
 */
import session, { type Store } from 'express-session';
import type pg from 'pg';
import type { Request, RequestHandler } from 'express';
import type { Config } from './config.js';
import { noStoreMetrics, type SessionStoreMetrics } from './metrics.js';
import { ThrottledPgStore } from './session-store.js';

export function createSessionStore(
  config: Config,
  pool: pg.Pool,
  onError: (err: Error) => void,
  metrics: SessionStoreMetrics = noStoreMetrics,
): Store {
  if (config.session.store === 'memory') return new session.MemoryStore();
  return new ThrottledPgStore({
    pool,
    touchAfterMs: config.session.touchAfterMs,
    maxBytes: config.session.maxBytes,
    metrics,
    onTouchError: onError,
  });
}

export function sessionMiddleware(config: Config, store: Store): RequestHandler {
  return session({
    store,
    name: config.session.cookieName,
    secret: config.session.secrets,
    resave: false,
    saveUninitialized: false,
    // The store rolls the expiry forward on activity; so must the browser's cookie, or a session in daily use
    // would vanish from the browser at login + max age. The row trails the cookie by < SESSION_TOUCH_AFTER_SECONDS.
    rolling: true,
    cookie: {
      httpOnly: true,
      sameSite: 'lax',
      // Secure when the original request was HTTPS: req.secure, from X-Forwarded-Proto of the trusted proxy hop.
      secure: 'auto',
      maxAge: config.session.maxAgeMs,
    },
  });
}

/** Closes the store; the pool itself belongs to the caller. */
export function closeSessionStore(store: Store): Promise<void> {
  const closable = store as Store & { close?: () => Promise<void> | void };
  return Promise.resolve(closable.close?.());
}

/** express-session's callback methods on the request's session, as a promise. */
export function sessionCall(req: Request, method: 'regenerate' | 'save' | 'destroy'): Promise<void> {
  return new Promise((resolve, reject) => req.session[method]((err: unknown) => (err ? reject(err) : resolve())));
}
