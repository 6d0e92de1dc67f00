/**
 * Requests Node refuses by itself answer with an empty body. Here they get the app's JSON error shape and X-Instance:
 * - what the HTTP parser refuses (a header block over 16 KiB, a malformed request line or chunking) never reaches
 *   Express, so the server's `clientError` event answers it (https://nodejs.org/api/http.html#event-clienterror);
 * - an HTTP/1.1 request without Host (what nginx forwards for an HTTP/1.0 request without one) is refused by the app
 *   itself, the server being created with `requireHostHeader: false`.
 */
import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RequestHandler } from 'express';
import { HttpError } from './errors.js';

/** The same statuses Node's own handler sends, each with a JSON error. */
function answerFor(code: string | undefined): [number, string] {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'request header fields too large'];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, 'chunk extensions too large'];
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'request timeout'];
    default:
      return [400, 'bad request'];
  }
}

export function answerClientErrors(server: Server, instanceId: string): void {
  // Written into raw header bytes: only printable ASCII.
  const instance = instanceId.replace(/[^\x20-\x7e]/g, '');
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // As Node does: reply only if nothing of a response on this connection has gone out yet.
    const response = (socket as Duplex & { _httpMessage?: { headersSent: boolean } })._httpMessage;
    if (err.code !== 'ECONNRESET' && socket.writable && !response?.headersSent) {
      const [status, error] = answerFor(err.code);
      const body = JSON.stringify({ error });
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
          'Content-Type: application/json; charset=utf-8\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\n` +
          `X-Instance: ${instance}\r\n` +
          'Connection: close\r\n\r\n' +
          body,
      );
    }
    socket.destroy();
  });
}

/** HTTP/1.1 requires Host (RFC 9112, 3.2): the same 400 Node would send, as JSON. */
export const requireHost: RequestHandler = (req, _res, next) =>
  next(req.httpVersion === '1.1' && req.headers.host === undefined ? new HttpError(400, 'bad request') : undefined);
