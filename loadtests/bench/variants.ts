/** What the bench compares, in the order of every round, and how each is started. */
import { fileURLToPath } from 'node:url';
import { LOAD_TEST_SCRYPT_COST } from '../target.js';
import { toolReplicaEnv } from '../../infra/replica-env.js';

export type VariantId = 'memory' | 'pg-defaults' | 'project' | 'redis' | 'nginx';
export type RunId = VariantId | 'pgbench' | 'project-1' | 'project-2' | 'redis-1' | 'memory-lone' | 'project-lone';

export interface Variant {
  id: VariantId;
  label: string;
  detail: string;
  replicas: number;
  /** The bench replica's BENCH_STORE; absent: app/server.ts as shipped (or the hello server for nginx). */
  benchStore?: 'memory' | 'pg-defaults' | 'redis';
  /** Its own database, so statements and row writes are its alone. */
  database?: string;
}

export const VARIANTS: Variant[] = [
  {
    id: 'memory',
    label: 'MemoryStore',
    detail:
      "express-session's MemoryStore, 1 replica (the status quo). Its touch resets the expiry in memory and calls back on a later tick, so express-session sends each response in two writes",
    replicas: 1,
    benchStore: 'memory',
    database: 'bench_memory',
  },
  {
    id: 'pg-defaults',
    label: 'connect-pg-simple defaults',
    detail:
      'connect-pg-simple 10 as it comes: one SELECT per request, an UPDATE on every touch, each replica prunes on its own timer; 3 replicas',
    replicas: 3,
    benchStore: 'pg-defaults',
    database: 'bench_pg_defaults',
  },
  {
    id: 'project',
    label: 'this project',
    detail:
      'app/server.ts as shipped: session reads coalesced (one query per event-loop turn), touch written at most once an hour per session (the default for 30-day sessions; a skipped touch answers at once, one write per response), one prune per interval for the fleet; 3 replicas',
    replicas: 3,
    database: 'bench_project',
  },
  {
    id: 'redis',
    label: 'connect-redis',
    detail:
      "connect-redis 10 + redis 6 on Debian's redis-server: one GET per request, EXPIRE on every touch (its answer arrives later: two writes per response); 3 replicas",
    replicas: 3,
    benchStore: 'redis',
    database: 'bench_redis',
  },
  {
    id: 'nginx',
    label: 'nginx + trivial Node',
    detail: 'ceiling: the same nginx in front of 3 node:http servers answering a fixed JSON',
    replicas: 3,
  },
];

export const PGBENCH_DATABASE = 'bench_pgbench';

export interface RunInfo {
  id: RunId;
  label: string;
  /** The fleet that serves it (pgbench has none). */
  variant?: VariantId;
  /** Replicas nginx sends to (the scaling runs use fewer of the project's three). */
  serving?: number;
  /** Concurrent connections, when not the bench's --connections (the lone-client runs: 1). */
  connections?: number;
}

/** One round, in order: equal-replica comparisons first (1 replica each, then 3 each), then ceilings and scaling. */
export const ROUND: RunInfo[] = [
  { id: 'memory', label: 'MemoryStore', variant: 'memory', serving: 1 },
  { id: 'project-1', label: 'this project, 1 replica', variant: 'project', serving: 1 },
  { id: 'redis-1', label: 'connect-redis, 1 replica', variant: 'redis', serving: 1 },
  { id: 'pg-defaults', label: 'connect-pg-simple defaults', variant: 'pg-defaults', serving: 3 },
  { id: 'project', label: 'this project', variant: 'project', serving: 3 },
  { id: 'redis', label: 'connect-redis', variant: 'redis', serving: 3 },
  { id: 'pgbench', label: 'pgbench -S' },
  { id: 'nginx', label: 'nginx + trivial Node', variant: 'nginx', serving: 3 },
  { id: 'project-2', label: 'this project, 2 replicas', variant: 'project', serving: 2 },
  // One client, one request at a time: what a lone request pays (no batch to share).
  { id: 'memory-lone', label: 'MemoryStore, 1 client', variant: 'memory', serving: 1, connections: 1 },
  { id: 'project-lone', label: 'this project, 1 replica, 1 client', variant: 'project', serving: 1, connections: 1 },
];

/** Which database a run's requests land in (pgbench's has none here: PGBENCH_DATABASE). */
export function databaseOf(run: RunId): string | undefined {
  const variant = ROUND.find((r) => r.id === run)?.variant;
  return VARIANTS.find((v) => v.id === variant)?.database;
}

/** What node runs for a variant's replicas; with `profileDir`, under the V8 CPU profiler. */
export function replicaArgs(v: Variant, profileDir?: string): string[] {
  const entry = v.id === 'nginx' ? './hello.ts' : v.benchStore ? './replica.ts' : '../../app/server.ts';
  const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  return [...profile, '--import', 'tsx', fileURLToPath(new URL(entry, import.meta.url))];
}

export function replicaEnv(
  v: Variant,
  opts: { databaseUrl?: string; redisUrl: string; secret: string; extra?: NodeJS.ProcessEnv },
): NodeJS.ProcessEnv {
  return toolReplicaEnv(opts.databaseUrl, {
    SESSION_SECRET: opts.secret,
    // As the load tests: the app's default (16384) would make logging in the sessions the slowest part of the bench.
    PASSWORD_SCRYPT_COST: String(LOAD_TEST_SCRYPT_COST),
    ...(v.benchStore && { BENCH_STORE: v.benchStore }),
    ...(v.benchStore === 'redis' && { REDIS_URL: opts.redisUrl }),
    ...opts.extra,
  });
}
