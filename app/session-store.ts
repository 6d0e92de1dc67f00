/**
 * connect-pg-simple's store (https://github.com/voxpelli/node-connect-pg-simple) with a throttled touch, like
 * connect-mongo's `touchAfter`, and every operation timed.
 *
 * express-session calls `touch` after every request that did not change the session, and connect-pg-simple
 * answers each one with an UPDATE: every read is also a write. Here `get` reads the row's expiry with the session
 * (same query) and decides whether this request's touch is worth writing: only when it would move the stored
 * expiry by at least `touchAfterMs`. The expiry still rolls forward, at most `touchAfterMs` late.
 */
import session, { type SessionData } from 'express-session';
import connectPgSimple from 'connect-pg-simple';
import type pg from 'pg';
import type { SessionStoreMetrics } from './metrics.js';

export const SESSION_TABLE = 'session';

/** Bounds the sessions awaiting their (skipped) touch, should a request never reach its end. */
const MAX_PENDING_SKIPS = 10_000;

type Callback<T = void> = (err: unknown, result?: T) => void;

/** Calls back outside the promise chain, so an exception thrown by the callback is not taken for a store error. */
function settle<T>(work: Promise<T>, callback: Callback<T> | undefined): void {
  work.then(
    (result) => process.nextTick(() => callback?.(null, result)),
    (err: unknown) => process.nextTick(() => callback?.(err)),
  );
}

export interface ThrottledStoreOptions {
  pool: pg.Pool;
  /** 0 writes every touch, as connect-pg-simple does. */
  touchAfterMs: number;
  metrics: SessionStoreMetrics;
  /**
   * A failed touch is reported here, not to express-session: it would pass the error to the error handler after the
   * answer has gone out, which can then only drop the connection and log a failed request.
   */
  onTouchError: (err: Error) => void;
}

export class ThrottledPgStore extends connectPgSimple(session) {
  readonly #pool: pg.Pool;
  readonly #touchAfterMs: number;
  readonly #metrics: SessionStoreMetrics;
  readonly #onTouchError: (err: Error) => void;
  /** Session ids whose next touch is not written: `get` found the stored expiry recent enough. */
  readonly #skipNextTouch = new Set<string>();

  constructor({ pool, touchAfterMs, metrics, onTouchError }: ThrottledStoreOptions) {
    super({
      pool,
      tableName: SESSION_TABLE,
      // The migration creates the table once; creating it here races when replicas start together.
      createTableIfMissing: false,
      // One replica prunes for the whole fleet (app/session-pruner.ts), not every replica on its own timer.
      pruneSessionInterval: false,
    });
    this.#pool = pool;
    this.#touchAfterMs = touchAfterMs;
    this.#metrics = metrics;
    this.#onTouchError = onTouchError;
  }

  /**
   * connect-pg-simple's query plus the row's expiry. The loaded session's `cookie.expires` is set to the expiry the
   * row will hold once this request is done, so routes (GET /api/me) report when the session really ends.
   */
  override get(sid: string, callback: Callback<SessionData | null>): void {
    const done = this.#metrics.startOperation('get');
    const loading = this.#load(sid);
    loading.then(() => done(), done);
    settle(loading, callback);
  }

  async #load(sid: string): Promise<SessionData | null> {
    // `expire` is a timestamp without time zone holding UTC: its epoch is the instant (whatever Node's TZ).
    // Named: each connection parses and plans it once, not on every request (the one query every request makes).
    const { rows } = await this.#pool.query<{ sess: SessionData; expire_ms: number }>({
      name: 'session-get',
      text: `SELECT sess, extract(epoch FROM expire)::float8 * 1000 AS expire_ms FROM "${SESSION_TABLE}"
       WHERE sid = $1 AND expire >= to_timestamp($2)`,
      values: [sid, Math.ceil(Date.now() / 1000)],
    });
    const row = rows[0];
    const maxAge = row?.sess.cookie?.originalMaxAge;
    if (!row || typeof maxAge !== 'number') {
      this.#pending(sid, false); // no session, or a cookie without max age: nothing to throttle against
      return row?.sess ?? null;
    }
    const { sess, expire_ms: stored } = row;
    const proposed = Date.now() + maxAge;
    // Either way: a fresh row is up to 1 s ahead (stored in whole seconds, rounded up), and a row far ahead (written by
    // a replica whose clock runs fast) is brought back like one far behind.
    const skip = Math.abs(proposed - stored) < this.#touchAfterMs;
    this.#pending(sid, skip);
    sess.cookie.expires = new Date(skip ? stored : proposed);
    return sess;
  }

  override touch(sid: string, sess: SessionData, callback?: () => void): void {
    if (this.#skipNextTouch.delete(sid)) {
      this.#metrics.touchSkipped();
      process.nextTick(() => callback?.());
      return;
    }
    const done = this.#metrics.startOperation('touch');
    super.touch(sid, sess, ((err?: Error) => {
      done(err);
      // The expiry simply did not move this time; the next request tries again.
      if (err) this.#onTouchError(err);
      callback?.();
    }) as () => void);
  }

  override set(sid: string, sess: SessionData, callback?: (err?: unknown) => void): void {
    this.#pending(sid, false);
    const done = this.#metrics.startOperation('set');
    super.set(sid, sess, (err?: unknown) => {
      done(err);
      callback?.(err);
    });
  }

  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    this.#pending(sid, false);
    const done = this.#metrics.startOperation('destroy');
    super.destroy(sid, (err?: unknown) => {
      done(err);
      callback?.(err);
    });
  }

  #pending(sid: string, skip: boolean): void {
    this.#skipNextTouch.delete(sid);
    if (!skip) return;
    if (this.#skipNextTouch.size >= MAX_PENDING_SKIPS) {
      // The oldest entry: its touch, if it ever comes, is written. Correct, merely not saved.
      this.#skipNextTouch.delete(this.#skipNextTouch.values().next().value!);
    }
    this.#skipNextTouch.add(sid);
  }
}
