/** HTTP/1.1 over a bare socket, for requests fetch refuses to send (bad methods, huge or invalid headers, bad bytes). */
import { connect } from 'node:net';

export interface RawReply {
  status: number;
  /** Lower-case names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  body: string;
}

const TIMEOUT_MS = 10_000;

/** Sends the bytes as they are on a new connection and reads the reply until the server closes it. */
export function rawExchange(baseUrl: string, bytes: Buffer | string): Promise<RawReply> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    socket.setTimeout(TIMEOUT_MS, () => socket.destroy(new Error(`${baseUrl}: no complete reply within ${TIMEOUT_MS} ms`)));
    socket.on('data', (chunk) => chunks.push(chunk));
    // A server may reset the connection right after an error reply: what arrived still counts.
    socket.on('error', (err) => (chunks.length ? resolve(parse(Buffer.concat(chunks))) : reject(err)));
    socket.on('end', () => resolve(parse(Buffer.concat(chunks))));
    socket.write(bytes);
  });
}

/** A well-formed request with Host, Connection: close and Content-Length filled in unless given. */
export function rawRequest(
  baseUrl: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string },
): Promise<RawReply> {
  const body = opts.body === undefined ? Buffer.alloc(0) : Buffer.from(opts.body);
  const headers: Record<string, string> = {
    host: new URL(baseUrl).host,
    connection: 'close',
    ...(opts.body !== undefined && { 'content-length': String(body.length) }),
    ...opts.headers,
  };
  const head = `${opts.method ?? 'GET'} ${opts.path} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
  return rawExchange(baseUrl, Buffer.concat([Buffer.from(head, 'latin1'), body]));
}

function parse(data: Buffer): RawReply {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`not an HTTP reply: ${JSON.stringify(data.subarray(0, 200).toString('latin1'))}`);
  const [statusLine, ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine!)?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let body = data.subarray(end + 4);
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  return { status, headers, body: body.toString('utf8') };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!size) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
