/** Shared by the operations tests: Prometheus samples, a replica with a log file, its JSON log lines. */
import { readFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { freePort } from '../../infra/ports.js';
import { startReplica, waitForReady, type ReplicaProcess } from '../../infra/replica.js';

/**
 * Sum of the samples of `name` whose labels include `labels`; 0 when none has those labels. Throws when the metric is
 * not exposed at all, so a renamed metric cannot pass for a zero.
 */
export function sample(metricsText: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let exposed = false;
  for (const line of metricsText.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    exposed = true;
    const have = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) sum += Number(match[3]);
  }
  if (!exposed) throw new Error(`metric ${name} is not exposed`);
  return sum;
}

/** GET /metrics on the replica's metrics port (the app port has no /metrics). */
export async function scrape(replica: { metricsUrl?: string }): Promise<string> {
  if (!replica.metricsUrl) throw new Error('this replica was started without a metrics port');
  const res = await fetch(`${replica.metricsUrl}/metrics`);
  if (res.status !== 200) throw new Error(`${replica.metricsUrl}/metrics answered HTTP ${res.status}`);
  return res.text();
}

/** A replica process writing its JSON log to `logFile`; killed in t.after. */
export async function startLoggedReplica(t: TestContext, env: NodeJS.ProcessEnv, logFile: string): Promise<ReplicaProcess> {
  const replica = startReplica({ port: await freePort(), metricsPort: await freePort(), env, logFile });
  t.after(() => replica.stop('SIGKILL'));
  await waitForReady(replica);
  return replica;
}

export function logLines(logFile: string): Record<string, any>[] {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
}

export interface FreezableProxy {
  /** `databaseUrl` with its host and port replaced by the proxy's. */
  url: string;
  /** Connections stay open and new ones are accepted, but no byte passes: a frozen server or a network partition. */
  freeze(): void;
  thaw(): void;
  close(): Promise<void>;
}

/** A TCP proxy in front of PostgreSQL, for the one failure a stopped server cannot show: a server that never answers. */
export async function startFreezableProxy(databaseUrl: string): Promise<FreezableProxy> {
  const target = new URL(databaseUrl);
  let frozen = false;
  const held: (() => void)[] = [];
  const sockets = new Set<Socket>();
  const relay = (from: Socket, to: Socket) => from.on('data', (chunk) => (frozen ? held.push(() => to.write(chunk)) : to.write(chunk)));
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxied = new URL(databaseUrl);
  proxied.host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url: proxied.toString(),
    freeze: () => void (frozen = true),
    thaw() {
      frozen = false;
      for (const write of held.splice(0)) write();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
