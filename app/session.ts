/**
 * express-session (https://github.com/expressjs/session) on connect-pg-simple
 * (https://github.com/voxpelli/node-connect-pg-simple), or on MemoryStore outside production.
 */
import session, { type Store } from 'express-session';
import connectPgSimple from 'connect-pg-simple';
import type pg from 'pg';
import type { RequestHandler } from 'express';
import type { Config } from './config.js';

export function createSessionStore(config: Config, pool: pg.Pool, onError: (err: Error) => void): Store {
  if (config.session.store === 'memory') return new session.MemoryStore();
  const PgStore = connectPgSimple(session);
  return new PgStore({
    pool,
    tableName: 'session',
    // The migration creates the table once; creating it here races when replicas start together.
    createTableIfMissing: false,
    errorLog: (...args: unknown[]) => onError(args.find((a) => a instanceof Error) ?? new Error(String(args[0]))),
  });
}

export function sessionMiddleware(config: Config, store: Store): RequestHandler {
  return session({
    store,
    name: config.session.cookieName,
    secret: config.session.secrets,
    resave: false,
    saveUninitialized: false,
    cookie: {
      httpOnly: true,
      sameSite: 'lax',
      // Secure when the original request was HTTPS: req.secure, from X-Forwarded-Proto of the trusted proxy hop.
      secure: 'auto',
      maxAge: config.session.maxAgeMs,
    },
  });
}

/** Stops the store's prune timer; the pool itself belongs to the caller. */
export function closeSessionStore(store: Store): Promise<void> {
  const closable = store as Store & { close?: () => Promise<void> | void };
  return Promise.resolve(closable.close?.());
}
