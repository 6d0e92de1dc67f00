/**
 * Makes an autocannon 9.0.0 connection behave like a real HTTP client when the server closes it
 * (https://github.com/mcollina/autocannon, lib/httpClient.js). Without this, autocannon:
 * - ignores `Connection: close` and writes the next request on that socket: nginx sends exactly this on every
 *   reload (the cluster reloads it twice per restarted replica), so each connection would silently lose a request;
 * - keeps unanswered requests queued when a connection ends, pairing every later response with the wrong request;
 * - reports nothing for a request lost that way.
 * Here a `Connection: close` answer moves the connection to a fresh socket before the next request. A request that
 * got no byte of answer on a reused connection is sent once more on a new one, as browsers do (RFC 9112 §9.3.1):
 * a server may close an idle keep-alive connection just as the next request arrives, and nginx does so on every
 * reload. Any other unanswered request is handed to `onLost`. The traffic's checks would see a replayed write that
 * had been applied after all (the item twice in the cart).
 * The internals used are checked on install, so an autocannon upgrade that changes them fails loudly.
 */
import type { Client, Request } from 'autocannon';

interface Internals {
  _connect(): void;
  _destroyConnection(): void;
  destroyed: boolean;
  conn: NodeJS.EventEmitter & { end(): void };
  opts: { pipelining: number };
  parser: { initialize(type: 'RESPONSE'): void };
  pipelinedRequests: { toArray(): Array<{ req: Request; bytes: number }>; clear(): void };
  requestIterator: { currentRequestIndex: number };
}

const CLOSED = 'connection closed before a complete response';

export interface KeepAliveEvents {
  /** A request that got no complete answer: `kind` is CLOSED, 'timeout' or the socket error's code. */
  lost(req: Request, kind: string): void;
  /** A request sent again after its reused connection closed before any byte of answer. */
  replayed(req: Request): void;
}

export function fixKeepAlive(client: Client, on: KeepAliveEvents): void {
  const c = client as unknown as Client & Internals;
  for (const name of ['_connect', '_destroyConnection', 'pipelinedRequests', 'parser', 'opts', 'requestIterator'] as const) {
    if (!(name in c)) throw new Error(`autocannon internals changed (no client.${name}): review loadtests/load/keep-alive-fix.ts`);
  }
  const connect = c._connect;
  const destroyConnection = c._destroyConnection;
  let lastError: string | undefined;
  let serverCloses = false;
  /** Responses on the current socket: a socket that answered before is a reused one. */
  let answered = 0;
  /** The request in flight is already a replay: it is not sent a third time. */
  let replaying = false;

  const settleUnanswered = (kind: string) => {
    const unanswered = c.pipelinedRequests.toArray();
    const reused = answered > 0;
    answered = 0;
    if (unanswered.length === 0) return;
    c.pipelinedRequests.clear();
    c.parser.initialize('RESPONSE'); // a response cut in half must not prefix the next one
    const only = unanswered.length === 1 ? unanswered[0]! : undefined;
    if (only && reused && only.bytes === 0 && !replaying && kind !== 'timeout') {
      replaying = true;
      c.requestIterator.currentRequestIndex -= 1; // autocannon's next write rebuilds this same request
      on.replayed(only.req);
      return;
    }
    replaying = false;
    for (const { req } of unanswered) on.lost(req, kind);
  };

  const events = c as unknown as NodeJS.EventEmitter; // the typings list only some of the client's events
  events.on('connError', (err: NodeJS.ErrnoException) => (lastError = err.code ?? err.message));
  // autocannon reconnects through _connect after an 'end' or an 'error' of the socket.
  c._connect = function () {
    settleUnanswered(lastError ?? CLOSED);
    lastError = undefined;
    connect.call(this);
  };
  // ... and through _destroyConnection on a timeout, or when the run ends (destroyed: not a failure).
  c._destroyConnection = function () {
    if (!this.destroyed) settleUnanswered('timeout');
    destroyConnection.call(this);
  };

  events.on('headers', (info: { shouldKeepAlive?: boolean }) => (serverCloses = info.shouldKeepAlive === false));
  // 'response' fires after the response is complete and before autocannon writes the next request.
  c.on('response', () => {
    answered++;
    replaying = false;
    if (!serverCloses || c.destroyed) return;
    serverCloses = false;
    answered = 0;
    const old = c.conn;
    for (const event of ['end', 'error', 'data']) old.removeAllListeners(event);
    old.on('error', () => {});
    old.end();
    // A new socket without sending anything: autocannon's own next write goes to it.
    const pipelining = c.opts.pipelining;
    c.opts.pipelining = 0;
    try {
      connect.call(c);
    } finally {
      c.opts.pipelining = pipelining;
    }
  });
}
