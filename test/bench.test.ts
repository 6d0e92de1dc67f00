/**
 * A short run of the benchmark's parts (loadtests/bench/): each store variant, on one replica behind nginx, serves the
 * bench's authenticated traffic without an error, and the counters the bench reports count what happened: session
 * row writes as PostgreSQL records them (one per touch with connect-pg-simple's defaults, none per read with this
 * project's throttled touch), and Redis commands.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { migratedDatabase, serverUrl } from './helpers/database.js';
import { createUsers, runPrefix } from '../loadtests/users.js';
import { settledSessionWrites } from '../loadtests/bench/database.js';
import { startCluster, type Cluster } from '../infra/cluster.js';
import { freePort } from '../infra/ports.js';
import { redisCommands, startRedis, type RedisHandle } from '../loadtests/bench/redis.js';
import { ensureTool, redisServer } from '../loadtests/bench/tools.js';
import { runTraffic, type TrafficResult } from '../loadtests/bench/traffic.js';
import { replicaArgs, replicaEnv, VARIANTS, type VariantId } from '../loadtests/bench/variants.js';

const STORES: VariantId[] = ['memory', 'pg-defaults', 'project', 'redis'];
const CONNECTIONS = 2;

let logDir: string;
let redis: RedisHandle | undefined;
const fleets = new Map<VariantId, Cluster>();
const databases = new Map<VariantId, string>();

before(async () => {
  logDir = mkdtempSync(join(tmpdir(), 'bench-test-'));
  const binary = await ensureTool(redisServer, () => {});
  if ('missing' in binary) throw new Error(binary.missing);
  redis = await startRedis(binary.path, () => {});
  const secret = randomBytes(48).toString('base64url');
  await Promise.allSettled(
    STORES.map(async (id) => {
      const variant = VARIANTS.find((v) => v.id === id)!;
      const databaseUrl = await migratedDatabase();
      databases.set(id, new URL(databaseUrl).pathname.slice(1));
      // Idle connections close after 1 s, so their backends exit and flush the write counts quickly.
      const env = replicaEnv(variant, { databaseUrl, redisUrl: redis!.url, secret, extra: { PG_IDLE_TIMEOUT_MS: '1000' } });
      const port = await freePort();
      fleets.set(id, await startCluster({ replicas: 1, args: replicaArgs(variant), env, baseEnv: {}, port, logDir: join(logDir, id) }));
    }),
  ).then((results) => {
    // Every fleet that did start is in `fleets` for after() to stop, whichever failed.
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  });
});

after(async () => {
  await Promise.all([...fleets.values()].map((f) => f.stop()));
  await redis?.stop();
  rmSync(logDir, { recursive: true, force: true });
});

describe('Benchmark variants and counters, short run', () => {
  const results = new Map<VariantId, TrafficResult>();
  let rowWrites: Record<string, number> = {};
  let commands = 0;

  it('When each variant gets the bench traffic, then every authenticated read and cart write succeeds', async () => {
    const stats = createClient({ url: redis!.url });
    await stats.connect();
    try {
      const sessions = new Map(
        await Promise.all(STORES.map(async (id) => [id, await createUsers(fleets.get(id)!.url, 20, runPrefix())] as const)),
      );
      const names = [...databases.values()];
      const before = await settledSessionWrites(serverUrl(), names, () => {});
      const commandsBefore = await redisCommands(stats);
      for (const id of STORES) {
        results.set(id, await runTraffic({ url: fleets.get(id)!.url, sessions: sessions.get(id)!, connections: CONNECTIONS, seconds: 2 }));
      }
      const commandsAfter = await redisCommands(stats);
      commands = Object.entries(commandsAfter).reduce((s, [k, n]) => s + n - (commandsBefore[k] ?? 0), 0);
      const settled = await settledSessionWrites(serverUrl(), names, () => {});
      rowWrites = Object.fromEntries(STORES.map((id) => [id, settled[databases.get(id)!]! - before[databases.get(id)!]!]));
    } finally {
      await stats.quit();
    }
    for (const id of STORES) {
      const r = results.get(id)!;
      assert.equal(r.errors, 0, `${id}: ${JSON.stringify(r.statuses)}`);
      assert.ok(r.reads > 20 && r.writes > 0, `${id}: ${r.reads} reads, ${r.writes} writes`);
      assert.equal(r.writesSkipped, 0, id);
      assert.ok(r.requestsPerSecond > 0 && r.latencyMs.p99 > 0, id);
    }
  });

  it('When connect-pg-simple runs with its defaults, then the row-write count shows one touch per read', () => {
    const r = results.get('pg-defaults')!;
    // Every answered request touched the row once (a cart write leaves the session unchanged, so it touches it too);
    // requests cut at the end may add one each.
    const expected = r.reads + r.writes;
    const got = rowWrites['pg-defaults']!;
    assert.ok(got >= expected && got <= expected + CONNECTIONS, `${got} row writes for ${r.reads} reads and ${r.writes} writes`);
  });

  it("When this project's store serves fresh sessions, then neither reads nor cart writes write the session row", () => {
    const r = results.get('project')!;
    const got = rowWrites.project!;
    // The sessions were just logged in, so every touch is within SESSION_TOUCH_AFTER_SECONDS and skipped (a request cut
    // at the end skips it too); cart items go to cart_items.
    assert.equal(got, 0, `${got} row writes for ${r.reads} reads and ${r.writes} writes`);
  });

  it('When the session lives in memory or Redis, then the session table gets no writes and Redis counts two commands per request', () => {
    assert.equal(rowWrites.memory, 0);
    assert.equal(rowWrites.redis, 0);
    const r = results.get('redis')!;
    // GET, then EXPIRE (the touch: no request changes the session); requests cut at the end may add up to two each.
    const expected = 2 * (r.reads + r.writes);
    assert.ok(commands >= expected && commands <= expected + 2 * CONNECTIONS, `${commands} commands for ${r.reads + r.writes} requests`);
  });
});
