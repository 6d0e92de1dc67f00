/**
 * connect-pg-simple's store (https://github.com/voxpelli/node-connect-pg-simple) with a throttled touch, like
 * connect-mongo's `touchAfter`, and every operation timed.
 *
 * express-session calls `touch` after every request that did not change the session, and connect-pg-simple
 * answers each one with an UPDATE: every read is also a write. Here `get` reads the row's expiry with the session
 * (same query) and decides whether this request's touch is worth writing: only when it would move the stored
 * expiry by at least `touchAfterMs`. The expiry still rolls forward, at most `touchAfterMs` late.
 *
 * Two more departures from connect-pg-simple, whose `set` is an upsert:
 * - A session that was loaded from the table is saved with an UPDATE only. If a logout (on any replica) deleted it
 *   after this request loaded it, the save fails with SessionEndedError instead of inserting the session again.
 * - A session whose JSON is larger than `maxBytes` is refused with SessionTooLargeError; the row stays as it was.
 *
 * Reads are coalesced (./session-reads.ts): the sessions that requests ask for in one turn of the event loop are read
 * with one query.
 */
import session, { type Session, type SessionData } from 'express-session';
import type { Request } from 'express';
import connectPgSimple from 'connect-pg-simple';
import type pg from 'pg';
import type { SessionStoreMetrics } from './metrics.js';
import { createSessionReader, type StoredSession } from './session-reads.js';

export const SESSION_TABLE = 'session';

/** Most sessions read by one query: bounds its size and time when thousands of requests arrive in one turn. */
const MAX_READ_BATCH = 100;

/** connect-pg-simple's expiry for a session without a cookie expiry (never the case with express-session's maxAge). */
const DEFAULT_TTL_SECONDS = 24 * 60 * 60;

/** The session was deleted (logout, expiry) after this request loaded it: saving it would bring it back. */
export class SessionEndedError extends Error {
  override name = 'SessionEndedError';
  constructor() {
    super('session ended');
  }
}

/** The session's JSON is over the configured cap (SESSION_MAX_BYTES); nothing was written. */
export class SessionTooLargeError extends Error {
  override name = 'SessionTooLargeError';
  constructor(
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`session data too large (${bytes} bytes, at most ${maxBytes})`);
  }
}

/** A save the store refused on purpose: an answer for the client, not a failure of the store. */
const refused = (err: unknown) => err instanceof SessionEndedError || err instanceof SessionTooLargeError;

/** The expiry connect-pg-simple writes: the cookie's, in whole seconds rounded up. */
function expireSeconds(sess: SessionData): number {
  const expires = sess.cookie?.expires;
  return expires ? Math.ceil(new Date(expires).valueOf() / 1000) : Math.ceil(Date.now() / 1000 + DEFAULT_TTL_SECONDS);
}

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
  /** Largest session JSON, in bytes (UTF-8), that `set` writes. */
  maxBytes: number;
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
  readonly #maxBytes: number;
  /**
   * Sessions whose touch is not written: `get` found the stored expiry recent enough (marked on the data it returns,
   * then on the Session object express-session builds from it), or `set` has just written it. Per request, not per
   * session id: parallel requests for one session each get their own decision.
   */
  readonly #skipTouch = new WeakSet<object>();
  /**
   * Session objects that have a row: loaded from the table, or inserted by this store. express-session hands `set` the
   * very object it built with `createSession` (or the one it generated), so the object tells a loaded session from a
   * new one. Weak: a request's session is forgotten with the request.
   */
  readonly #stored = new WeakSet<object>();
  readonly #read: (sid: string) => Promise<StoredSession | null>;

  constructor({ pool, touchAfterMs, metrics, maxBytes, onTouchError }: ThrottledStoreOptions) {
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
    this.#maxBytes = maxBytes;
    this.#read = createSessionReader({ pool, table: SESSION_TABLE, maxBatchSize: MAX_READ_BATCH, onBatch: metrics.readBatch });
  }

  /** express-session builds every session it loads from the store here. */
  override createSession(req: Request, data: SessionData): Session & SessionData {
    const skip = this.#skipTouch.delete(data);
    const loaded = super.createSession(req, data);
    this.#stored.add(loaded);
    if (skip) this.#skipTouch.add(loaded);
    return loaded;
  }

  /**
   * connect-pg-simple's query plus the row's expiry. The loaded session's `cookie.expires` is set to the expiry the
   * row will hold once this request is done, so routes (GET /api/me) report when the session really ends.
   */
  override get(sid: string, callback: Callback<SessionData | null>): void {
    this.#timed('get', this.#load(sid), callback);
  }

  /** Times one operation and answers express-session's callback; a refused save is not counted as a store error. */
  #timed<T>(operation: 'get' | 'set', work: Promise<T>, callback: Callback<T> | undefined): void {
    const done = this.#metrics.startOperation(operation);
    work.then(
      () => done(),
      (err: unknown) => done(refused(err) ? undefined : err),
    );
    settle(work, callback);
  }

  async #load(sid: string): Promise<SessionData | null> {
    const row = await this.#read(sid);
    const maxAge = row?.sess.cookie?.originalMaxAge;
    // No session, or a cookie without max age: nothing to throttle against.
    if (!row || typeof maxAge !== 'number') return row?.sess ?? null;
    const { sess, expireMs: stored } = row;
    const proposed = Date.now() + maxAge;
    // Either way: a fresh row is up to 1 s ahead (stored in whole seconds, rounded up), and a row far ahead (written by
    // a replica whose clock runs fast) is brought back like one far behind.
    const skip = Math.abs(proposed - stored) < this.#touchAfterMs;
    if (skip) this.#skipTouch.add(sess);
    sess.cookie.expires = new Date(skip ? stored : proposed);
    return sess;
  }

  override touch(sid: string, sess: SessionData, callback?: () => void): void {
    if (this.#skipTouch.delete(sess)) {
      this.#metrics.touchSkipped();
      // At once: express-session then ends the response in one call, one write. A store that answers on a later turn
      // (MemoryStore's setImmediate, a network round trip) makes it write all but the last byte first and that byte
      // when called back: two writes per response (seen with strace; a nextTick still lands before Node's uncork).
      callback?.();
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
    this.#timed('set', this.#save(sid, sess), callback);
  }

  /** The same columns and values as connect-pg-simple's upsert; the JSON is what pg would send for the object. */
  async #save(sid: string, sess: SessionData): Promise<void> {
    const json = JSON.stringify(sess);
    const bytes = Buffer.byteLength(json);
    if (bytes > this.#maxBytes) throw new SessionTooLargeError(bytes, this.#maxBytes);
    const values = [json, expireSeconds(sess), sid];
    if (this.#stored.has(sess)) {
      // Never an insert: the row is gone only if the session ended (logout, expiry) after this request loaded it.
      const { rowCount } = await this.#pool.query(
        `UPDATE "${SESSION_TABLE}" SET sess = $1, expire = to_timestamp($2) WHERE sid = $3`,
        values,
      );
      if (rowCount === 0) throw new SessionEndedError();
      this.#written(sess);
      return;
    }
    // A new session (first save, or after regenerate) has a new random id: there is no ended session to bring back.
    await this.#pool.query(
      `INSERT INTO "${SESSION_TABLE}" (sess, expire, sid) SELECT $1, to_timestamp($2), $3
       ON CONFLICT (sid) DO UPDATE SET sess = $1, expire = to_timestamp($2)`,
      values,
    );
    this.#stored.add(sess);
    this.#written(sess);
  }

  /** The row now holds this session's expiry: the touch express-session sends after a save would only repeat it. */
  #written(sess: SessionData): void {
    if (this.#touchAfterMs > 0) this.#skipTouch.add(sess);
  }

  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    const done = this.#metrics.startOperation('destroy');
    super.destroy(sid, (err?: unknown) => {
      done(err);
      callback?.(err);
    });
  }
}
