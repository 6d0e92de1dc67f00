/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a server that is started next (nginx, replicas, PostgreSQL).
 *
 * Not one the OS picks with listen(0): those come from the ephemeral range, from which the OS also takes the local
 * port of every outgoing connection, so in the moment between this check and the server's own bind, a connection of
 * a test running in parallel could take it ("Address already in use"). A random port below that range can only be
 * taken by another server doing the same.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomInt } from 'node:crypto';

const LOWEST = 10_000;
const ATTEMPTS = 50;

/** The first port of the OS's ephemeral range (Linux), or the IANA one elsewhere. */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > LOWEST + 1_000) return first;
  } catch {
    // not Linux
  }
  return 49_152;
}

function bindable(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as { port: number };
      server.close(() => resolve(bound));
    });
  });
}

export async function freePort(): Promise<number> {
  const below = ephemeralStart();
  for (let i = 0; i < ATTEMPTS; i++) {
    const port = await bindable(randomInt(LOWEST, below));
    if (port) return port;
  }
  const port = await bindable(0);
  if (!port) throw new Error('no free TCP port on 127.0.0.1');
  return port;
}
