/** JSON errors for every failure: a status, `{error}` (and a stable `code` where a client acts on it), never a stack trace. */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { SessionEndedError, SessionTooLargeError } from '../session-store.js';
import { HashQueueFullError } from '../hash-limiter.js';

/** The 503 when this replica has too many password hashes waiting: the client may try again after Retry-After. */
const HASHING_BUSY = { code: 'password_hashing_busy', message: 'too many sign-ins at once, try again shortly', retryAfterSeconds: 1 };

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

// Errors that mean "the database cannot be reached right now", as opposed to a bug.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
]);
// The last one: a request cut at the shutdown deadline whose handler goes on after the pool has ended.
const UNAVAILABLE_MESSAGES =
  /timeout exceeded when trying to connect|Connection terminated|Client has encountered a connection error|connection timeout|canceling statement due to statement timeout|Query read timeout|Cannot use a pool after calling end/i;

export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code;
  if (code && UNAVAILABLE_CODES.has(code)) return true;
  if (err instanceof AggregateError) return err.errors.some(isDatabaseUnavailable);
  return UNAVAILABLE_MESSAGES.test(err.message);
}

/** What is logged of an error: never pg's `detail`, which can quote row values such as a session id. */
function loggable(err: unknown) {
  if (!(err instanceof Error)) return { message: String(err) };
  return { message: err.message, code: (err as { code?: string }).code, stack: err.stack };
}

export const notFound: RequestHandler = (_req, _res, next) => next(new HttpError(404, 'not found'));

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    let status = 500;
    let message = 'internal error';
    let headers: Record<string, string> = {};
    let code: string | undefined;
    if (err instanceof HttpError) {
      ({ status, message, headers } = err);
    } else if (err instanceof SessionEndedError) {
      // Logged out (or expired) on some replica while this request ran. Drop the session from the request, so that
      // express-session neither touches the row nor sends its cookie again.
      status = 401;
      message = err.message;
      req.session = undefined as unknown as typeof req.session;
    } else if (err instanceof SessionTooLargeError) {
      status = 413;
      message = err.message;
      logger.warn({ reqId: req.id, bytes: err.bytes, maxBytes: err.maxBytes }, 'session data too large');
    } else if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
      // body-parser: entity.too.large (413), entity.parse.failed (400), charset/encoding errors (415)
      status = err.status;
      message = err.type === 'entity.parse.failed' ? 'malformed JSON body' : err.expose ? err.message : 'bad request';
    } else if (err instanceof HashQueueFullError) {
      // Overload, not a fault: never a 500. Counted by the limiter (password_hashes_rejected_total).
      status = 503;
      message = HASHING_BUSY.message;
      code = HASHING_BUSY.code;
      headers = { 'Retry-After': String(HASHING_BUSY.retryAfterSeconds) };
      logger.warn({ reqId: req.id, ...err.load }, 'password hashing queue full');
    } else if (isDatabaseUnavailable(err)) {
      // Also the pool's "timeout exceeded when trying to connect" (PG_CONNECT_TIMEOUT_MS), which an overloaded replica
      // gives with the database fine: every connection busy, or a new connection's SCRAM handshake queued on libuv's
      // threads behind scrypt (app/config.ts, PASSWORD_HASH_CONCURRENCY). Either way the client can act on it, hence
      // Retry-After; the log's message tells the connect timeout from a database that is down.
      status = 503;
      message = 'database unavailable, try again shortly';
      headers = { 'Retry-After': '1' };
      logger.warn({ reqId: req.id, err: { message: err.message, code: err.code } }, 'database unavailable');
    } else {
      logger.error({ reqId: req.id, err: loggable(err) }, 'unhandled error');
    }
    if (res.headersSent) return res.destroy();
    res
      .status(status)
      .set(headers)
      .json({ error: message, ...(code && { code }) });
  };
}
