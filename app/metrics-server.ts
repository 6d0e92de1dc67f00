/**
 * The metrics port: a plain node:http server that answers only `GET /metrics` with the replica's prom-client registry.
 * Apart from the app port, so nginx (which proxies the app port to the world) never exposes it; Prometheus scrapes it
 * directly on each replica.
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

/** Listens on host:port (0: any free port, for in-process tests) and resolves once listening; rejects if it cannot bind. */
export async function startMetricsServer(registry: Registry, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const json = (status: number, error: string, headers: Record<string, string> = {}) =>
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify({ error }));
    if (new URL(req.url ?? '/', 'http://metrics').pathname !== '/metrics') return json(404, 'not found');
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, 'method not allowed', { allow: 'GET, HEAD' });
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      () => json(500, 'metrics could not be collected'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** Stops accepting and closes open scrape connections (Prometheus keeps them alive between scrapes). */
export function closeMetricsServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  return closed;
}
