/**
 * One measured run: the load (the load engine through a fleet's nginx, or pgbench) and, around it, the counters that turn
 * it into costs: CPU of every process involved, pg_stat_statements of the run's database, Redis commands, and the
 * CPU that processes outside the bench used meanwhile (other work on the machine skews the figures).
 */
import { cpus } from 'node:os';
import { loadAverage as oneMinuteLoad } from '../report/report.js';
import { round as roundTo } from '../stats.js';
import type { VirtualUser } from '../users.js';
import { cpuSeconds, machineBusySeconds, processCpuSeconds } from './cpu.js';
import { addStatement, type BenchPostgres, type StatementCount } from './database.js';
import type { Cluster } from '../../infra/cluster.js';
import { runPgbench } from './pgbench.js';
import { redisCommands, type RedisClient } from './redis.js';
import { CPU_PARTS, type CpuSeconds, type RunRecord } from './summary.js';
import { runTraffic, type TrafficResult } from './traffic.js';
import { databaseOf, PGBENCH_DATABASE, type RunInfo, type VariantId } from './variants.js';

export interface MeasureContext {
  postgres: BenchPostgres;
  redisPid: number;
  redisStats: RedisClient;
  fleets: Map<VariantId, Cluster>;
  sessions: Map<VariantId, VirtualUser[]>;
  pgbench?: { binary: string; url: string; clients: number };
  connections: number;
  seconds: number;
  /** Unrecorded load just before each run. */
  warmupSeconds: number;
  /** pg_stat_statements deltas per database, added up over the runs. */
  statementTotals: Map<string, Map<string, StatementCount>>;
}

/** A query that reads sessions by id: connect-pg-simple's `WHERE sid = $1`, this project's `WHERE sid = ANY($1)`. */
const SESSION_READ = /^\s*SELECT\b[\s\S]*\bFROM\s+"session"\s+WHERE\s+sid\s*=/i;

/** undefined when the run cannot happen here (pgbench missing). */
export async function measureRun(ctx: MeasureContext, run: RunInfo, round: number): Promise<RunRecord | undefined> {
  const fleet = run.variant && ctx.fleets.get(run.variant);
  if (run.id === 'pgbench' ? !ctx.pgbench : !fleet) return undefined;
  if (fleet && run.serving) await fleet.serveWith(run.serving);
  const connections = run.connections ?? ctx.connections;
  if (fleet && ctx.warmupSeconds > 0) {
    await runTraffic({ url: fleet.url, sessions: ctx.sessions.get(run.variant!)!, connections, seconds: ctx.warmupSeconds });
  }
  const database = run.id === 'pgbench' ? PGBENCH_DATABASE : databaseOf(run.id);
  const groups = {
    replicas: fleet ? fleet.replicas().map((r) => r.pid) : [],
    postgres: [ctx.postgres.postmasterPid],
    redis: [ctx.redisPid],
    nginx: fleet ? [fleet.nginx.pid] : [],
    // Everything this bench started is below its own process.
    bench: [process.pid],
  };
  const loadAverage = oneMinuteLoad();
  const snapshot = async () => ({
    statements: await ctx.postgres.statements(),
    commands: await redisCommands(ctx.redisStats),
    cpu: { ...cpuSeconds(groups), loadGenerator: processCpuSeconds(process.pid), machine: machineBusySeconds() },
  });

  const before = await snapshot();
  const load: TrafficResult = fleet
    ? await runTraffic({ url: fleet.url, sessions: ctx.sessions.get(run.variant!)!, connections, seconds: ctx.seconds })
    : await runPgbench(ctx.pgbench!.binary, ctx.pgbench!.url, { clients: ctx.pgbench!.clients, seconds: ctx.seconds });
  const after = await snapshot();
  // The cluster starts a replica that died again: its CPU and its lost requests would be missing from the figures.
  const restarted = fleet?.replicas().filter((r) => r.restarts > 0) ?? [];
  if (restarted.length)
    throw new Error(`${run.id}: replica ${restarted[0]!.index + 1} exited during the bench (log: ${restarted[0]!.logFile})`);

  const statements = diffStatements(before.statements.get(database ?? ''), after.statements.get(database ?? ''));
  if (database) {
    const totals = ctx.statementTotals.get(database) ?? new Map<string, StatementCount>();
    for (const s of statements) addStatement(totals, s);
    ctx.statementTotals.set(database, totals);
  }
  const used = (key: keyof typeof after.cpu) => roundTo(after.cpu[key] - before.cpu[key], 3);
  const others = Math.max(0, used('machine') - used('bench'));
  return {
    round,
    run: run.id,
    loadAverage,
    othersCpuShare: roundTo(others / (load.seconds * cpus().length), 3),
    ...load,
    pgStatements: statements.reduce((s, d) => s + d.calls, 0),
    sessionReads: statements.filter((d) => SESSION_READ.test(d.query)).reduce((s, d) => s + d.calls, 0),
    redisCommands: run.variant === 'redis' ? Object.entries(after.commands).reduce((s, [k, n]) => s + n - (before.commands[k] ?? 0), 0) : 0,
    cpuSeconds: Object.fromEntries(CPU_PARTS.map((k) => [k, used(k)])) as CpuSeconds,
  };
}

function diffStatements(before: Map<string, StatementCount> | undefined, after: Map<string, StatementCount> | undefined): StatementCount[] {
  const out: StatementCount[] = [];
  for (const [query, a] of after ?? []) {
    const b = before?.get(query);
    const calls = a.calls - (b?.calls ?? 0);
    if (calls > 0) out.push({ query, calls, rows: a.rows - (b?.rows ?? 0), execMs: a.execMs - (b?.execMs ?? 0) });
  }
  return out;
}
