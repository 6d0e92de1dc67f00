/**
 * A throwaway redis-server on a free loopback port: no persistence (--save '' --appendonly no), stopped afterwards.
 * Also measures what one stored session costs in Redis memory.
 */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, type RedisClientType } from 'redis';
import { freePort } from '../../infra/ports.js';

/** What `createClient({ url })` returns (RESP3, no modules): one name for it across the bench. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- redis spells "no modules, functions, scripts" as {}
export type RedisClient = RedisClientType<{}, {}, {}, 3, {}>;

export interface RedisHandle {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startRedis(binary: string, log: (line: string) => void): Promise<RedisHandle> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--loglevel', 'warning'];
  const child = spawn(binary, [...args, '--save', '', '--appendonly', 'no', '--dir', tmpdir()], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (chunk: Buffer) => log(`redis: ${chunk.toString().trim()}`));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    const client = createClient({ url, socket: { reconnectStrategy: false } });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      await client.quit();
      break;
    } catch {
      client.destroy();
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`redis-server did not answer on ${url}`);
      }
      await sleep(100);
    }
  }
  log(`redis: ${binary} on 127.0.0.1:${port} (no persistence)`);
  return { url, pid: child.pid!, stop };
}

export interface RedisSessionBytes {
  /** MEMORY USAGE of the sessions the bench stored, averaged. */
  memoryUsage: number;
  /** used_memory growth per key when `copies` copies of a median session are added. */
  usedMemoryPerSession: number;
  sampled: number;
  copies: number;
}

const usedMemory = async (client: RedisClient) => Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1]);

/** Both measures, from connect-redis's own keys (prefix sess:); the copies go into database 1 and are removed. */
export async function redisSessionBytes(url: string, copies: number): Promise<RedisSessionBytes> {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  try {
    const keys: string[] = [];
    for await (const batch of client.scanIterator({ MATCH: 'sess:*', COUNT: 500 })) {
      keys.push(...batch);
      if (keys.length >= 500) break;
    }
    if (keys.length === 0) throw new Error('no sess:* keys to measure');
    const sizes = await Promise.all(keys.map((k) => client.memoryUsage(k, { SAMPLES: 0 })));
    const byLength = await Promise.all(keys.map(async (k) => ({ k, value: (await client.get(k)) ?? '' })));
    byLength.sort((a, b) => a.value.length - b.value.length);
    const median = byLength[Math.floor(byLength.length / 2)]!;
    const ttl = await client.ttl(median.k);

    await client.select(1);
    await client.flushDb();
    const before = await usedMemory(client);
    for (let i = 0; i < copies; i += 1_000) {
      const batch = client.multi();
      for (let j = i; j < Math.min(copies, i + 1_000); j++)
        batch.set(`sess:${j.toString(36).padStart(32, '0')}`, median.value, { expiration: { type: 'EX', value: ttl } });
      await batch.execAsPipeline();
    }
    const after = await usedMemory(client);
    await client.flushDb();
    return {
      memoryUsage: Math.round(sizes.reduce<number>((s, n) => s + (n ?? 0), 0) / sizes.length),
      usedMemoryPerSession: Math.round((after - before) / copies),
      sampled: keys.length,
      copies,
    };
  } finally {
    await client.quit();
  }
}

/** Commands Redis has executed so far, by name (INFO commandstats), without INFO itself. */
export async function redisCommands(client: RedisClient): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [, name, calls] of (await client.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    if (name !== 'info') out[name!] = Number(calls);
  }
  return out;
}
