/** The bench's record (rounds as measured) and what it concludes: medians per run, ratios, the scaling curve, targets. */
import type { Machine } from '../report/report.js';
import { median, round } from '../stats.js';
import type { StatementCount } from './database.js';
import type { RedisSessionBytes } from './redis.js';
import type { ProfileSummary } from './profile.js';
import type { TrafficResult } from './traffic.js';
import { databaseOf, ROUND, VARIANTS, type RunId, type VariantId } from './variants.js';

/** The processes whose CPU a run charges; loadGenerator: the bench process (the load engine), or pgbench's client. */
export const CPU_PARTS = ['replicas', 'postgres', 'redis', 'nginx', 'loadGenerator'] as const;
export type CpuSeconds = Record<(typeof CPU_PARTS)[number], number>;

/** One run as measured: the traffic's figures (pgbench: transactions, all reads) and its costs. */
export interface RunRecord extends TrafficResult {
  round: number;
  run: RunId;
  /** 1-minute load average just before the run (the bench's own previous run included). */
  loadAverage: number;
  /** CPU used by processes outside the bench during the run, as a share of the machine (0-1). */
  othersCpuShare: number;
  /** pg_stat_statements calls in the run's database during the run. */
  pgStatements: number;
  /** Of those, the queries that read sessions (one per request without coalescing). */
  sessionReads: number;
  redisCommands: number;
  cpuSeconds: CpuSeconds;
}

export interface BenchOptions {
  rounds: number;
  duration: number;
  connections: number;
  sessions: number;
  warmup: number;
  /** Seconds of unrecorded load just before each measured run. */
  runWarmup: number;
  scryptCost: number;
  /** The app replicas ran under --cpu-prof. */
  cpuProf: boolean;
}

export interface BenchRecord {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: Machine;
  options: BenchOptions;
  versions: Record<string, string>;
  runs: RunRecord[];
  /** Session row writes (n_tup_ins + n_tup_upd + n_tup_del) per database over all measured rounds. */
  sessionRowWrites: Record<string, number>;
  /** pg_stat_statements deltas per database over all measured rounds. */
  statements: Record<string, StatementCount[]>;
  bytesPerSession: {
    postgres?: { fill: number; asFound: number; rowsFound: number; sessionJsonBytes: number; copies: number };
    redis?: RedisSessionBytes;
  };
  /** With --cpu-prof: where each fleet's replicas spent their CPU. */
  profiles?: Partial<Record<VariantId, ProfileSummary>>;
  notes: string[];
}

export interface RunSummary {
  run: RunId;
  label: string;
  detail: string;
  rounds: number;
  requests: number;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  readP99: number;
  writeP99: number;
  errors: number;
  writesSkipped: number;
  /** Throughput as a share of MemoryStore's (1 replica) and of connect-redis's on as many replicas (1 or 3). */
  vsMemory?: number;
  vsRedis?: number;
  p99VsMemory?: number;
  statementsPerRequest: number;
  /** Session-reading queries per request: 1 without coalescing, less when one query reads several requests' sessions. */
  sessionReadsPerRequest: number;
  redisCommandsPerRequest: number;
  /**
   * Session row writes per request, and per read with every one of them charged to the reads: a cart write keeps its
   * items in cart_items and only touches the session row as a read does, so this bounds a read's share from above.
   */
  rowWritesPerRequest?: number;
  rowWritesPerRead?: number;
  /** CPU seconds per 1,000 requests (pgbench: transactions), medians over the rounds. */
  cpuPer1000: CpuSeconds & { total: number };
}

export interface Target {
  name: string;
  goal: string;
  value: string;
  met: boolean;
}

export interface BenchSummary {
  runs: RunSummary[];
  scaling: Array<{ replicas: number; requestsPerSecond: number; p99: number }>;
  targets: Target[];
}

const ratio = (a: number, b: number | undefined) => (b ? round(a / b, 2) : undefined);

export function summarise(record: BenchRecord): BenchSummary {
  const byRun = (id: RunId) => record.runs.filter((r) => r.run === id);
  const runs: RunSummary[] = ROUND.filter((info) => byRun(info.id).length > 0).map((info) => {
    const rows = byRun(info.id);
    const sum = (pick: (r: RunRecord) => number) => rows.reduce((s, r) => s + pick(r), 0);
    const med = (pick: (r: RunRecord) => number) => median(rows.map(pick));
    /** Median over the rounds of `pick` per request, times `scale` (0 for a run without requests). */
    const perRequest = (pick: (r: RunRecord) => number, scale = 1) => {
      const values = rows.map((r) => (r.requests ? (pick(r) / r.requests) * scale : 0));
      return round(median(values), 3);
    };
    const cpu = (pick: (c: CpuSeconds) => number) => perRequest((r) => pick(r.cpuSeconds), 1000);
    const db = databaseOf(info.id);
    // Row writes are read once the counts have settled, over all rounds: shared by the runs on the same database.
    const onDb = db ? record.runs.filter((r) => databaseOf(r.run) === db) : [];
    const rowWrites = db === undefined ? undefined : record.sessionRowWrites[db];
    const rowWritesPer = (pick: (r: RunRecord) => number) => {
      const total = onDb.reduce((s, r) => s + pick(r), 0);
      return rowWrites === undefined ? undefined : round(rowWrites / Math.max(1, total), 4);
    };
    return {
      run: info.id,
      label: info.label,
      detail: VARIANTS.find((v) => v.id === info.variant)?.detail ?? 'ceiling: pgbench select-only on the same PostgreSQL',
      rounds: rows.length,
      requests: sum((r) => r.requests),
      requestsPerSecond: med((r) => r.requestsPerSecond),
      p50: med((r) => r.latencyMs.p50),
      p99: med((r) => r.latencyMs.p99),
      readP99: med((r) => r.readP99),
      writeP99: med((r) => r.writeP99),
      errors: sum((r) => r.errors),
      writesSkipped: sum((r) => r.writesSkipped),
      statementsPerRequest: perRequest((r) => r.pgStatements),
      sessionReadsPerRequest: perRequest((r) => r.sessionReads),
      redisCommandsPerRequest: perRequest((r) => r.redisCommands),
      rowWritesPerRequest: rowWritesPer((r) => r.requests),
      rowWritesPerRead: rowWritesPer((r) => r.reads),
      cpuPer1000: {
        ...(Object.fromEntries(CPU_PARTS.map((k) => [k, cpu((c) => c[k])])) as CpuSeconds),
        total: cpu((c) => CPU_PARTS.reduce((s, k) => s + c[k], 0)),
      },
    };
  });
  const find = (id: RunId) => runs.find((r) => r.run === id);
  const memory = find('memory');
  const servingOf = (id: RunId) => ROUND.find((info) => info.id === id)?.serving;
  // connect-redis on as many replicas, at the bench's concurrency (the lone-client runs have no such peer).
  const redisPeer = (id: RunId) =>
    id.endsWith('-lone') ? undefined : [find('redis'), find('redis-1')].find((r) => r && servingOf(r.run) === servingOf(id));
  for (const r of runs) {
    r.vsMemory = ratio(r.requestsPerSecond, memory?.requestsPerSecond);
    r.vsRedis = ratio(r.requestsPerSecond, redisPeer(r.run)?.requestsPerSecond);
    r.p99VsMemory = ratio(r.p99, memory?.p99);
  }
  const scaling = (['project-1', 'project-2', 'project'] as const)
    .map((id, i) => ({ replicas: i + 1, run: find(id) }))
    .filter((p) => p.run)
    .map((p) => ({ replicas: p.replicas, requestsPerSecond: p.run!.requestsPerSecond, p99: p.run!.p99 }));
  return { runs, scaling, targets: targets(find) };
}

/** Issue 12's targets, each from runs of the same bench: equal replicas, medians of interleaved rounds. */
function targets(find: (id: RunId) => RunSummary | undefined): Target[] {
  const out: Target[] = [];
  const add = (name: string, goal: string, value: string, met: boolean) => out.push({ name, goal, value, met });
  const [memory, one, redisOne, three, redisThree, lone] = (
    ['memory', 'project-1', 'redis-1', 'project', 'redis', 'project-lone'] as const
  ).map(find);
  const throughput = (name: string, ours: RunSummary | undefined, other: RunSummary | undefined, min: number) => {
    if (!ours || !other) return;
    const vs = ratio(ours.requestsPerSecond, other.requestsPerSecond) ?? 0;
    add(name, `≥ ${min}×`, `${vs}× (${ours.requestsPerSecond} vs ${other.requestsPerSecond} req/s)`, vs >= min);
  };
  throughput("1 replica each: throughput vs MemoryStore's", one, memory, 0.85);
  if (one && memory) {
    const vs = ratio(one.p99, memory.p99) ?? Infinity;
    add("1 replica each: p99 latency vs MemoryStore's", '≤ 1.5×', `${vs}× (${one.p99} vs ${memory.p99} ms)`, vs <= 1.5);
  }
  throughput("1 replica each: throughput vs connect-redis's", one, redisOne, 1);
  throughput("3 replicas each: throughput vs connect-redis's", three, redisThree, 1);
  if (three?.rowWritesPerRead !== undefined)
    add('Session row writes per read-only request', '0', String(three.rowWritesPerRead), three.rowWritesPerRead === 0);
  // A read-only request's only statement is its share of a session read (its touch is not written: the row above).
  for (const r of [one, three]) {
    if (r)
      add(`Session-read statements per request, ${r.label}`, '< 0.5', String(r.sessionReadsPerRequest), r.sessionReadsPerRequest < 0.5);
  }
  const loneReads = lone?.sessionReadsPerRequest;
  if (loneReads !== undefined) add('Session-read statements per request, a lone client', '= 1', String(loneReads), loneReads === 1);
  return out;
}
