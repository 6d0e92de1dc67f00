/**
 * `npm run bench`: MemoryStore, connect-pg-simple's defaults, this project and connect-redis side by side on one
 * machine, plus two ceilings (pgbench select-only, nginx before a trivial response) and this project on 1, 2 and 3
 * replicas. Interleaved rounds, medians; writes results/bench-<timestamp>.json and .html. See docs/benchmark.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import { parseWhole } from '../cli.js';
import { commandLine, loadAverage, machine } from '../report/report.js';
import { stamp } from '../report/write.js';
import { createUsers, runPrefix, type VirtualUser } from '../users.js';
import { startBenchPostgres } from './database.js';
import { startCluster, type Cluster } from '../../infra/cluster.js';
import { freePort } from '../../infra/ports.js';
import { initPgbench } from './pgbench.js';
import { measureRun, type MeasureContext } from './measure.js';
import { summariseProfiles } from './profile.js';
import { redisSessionBytes, startRedis } from './redis.js';
import { summarise, type BenchOptions, type BenchRecord } from './summary.js';
import { ensureTool, pgbench as pgbenchTool, redisServer } from './tools.js';
import { runTraffic } from './traffic.js';
import { PGBENCH_DATABASE, replicaArgs, replicaEnv, ROUND, VARIANTS, type VariantId } from './variants.js';
import { writeBenchReport } from './html.js';
import { stopOnSignals } from '../signals.js';
import { LOAD_TEST_SCRYPT_COST } from '../target.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const BYTES_COPIES = 10_000;
/** The app's default pool size per replica (PG_POOL_MAX). */
const PG_POOL_MAX = 10;

const USAGE = `Usage: npm run bench -- [options]
  --rounds N        interleaved rounds; medians are reported (default 3)
  --duration S      seconds of load per run (default 15)
  --connections N   concurrent keep-alive connections (default 50)
  --sessions N      logged-in sessions per variant (default 1500; each takes at most 50 cart writes)
  --warmup S        seconds of unrecorded load per fleet before the rounds (default 5)
  --run-warmup S    seconds of unrecorded load just before each measured run (default 2): a fleet that sat idle
                    while the others ran has closed its idle database connections and must not pay for them
                    again inside its measurement
  --out DIR         where the reports go (default results)
  --cpu-prof        run the app replicas under node --cpu-prof and report where their CPU goes (slows them:
                    use it to find costs, not for the figures)`;

function options(): BenchOptions & { out: string } {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '15' },
      connections: { type: 'string', default: '50' },
      sessions: { type: 'string', default: '1500' },
      warmup: { type: 'string', default: '5' },
      'run-warmup': { type: 'string', default: '2' },
      out: { type: 'string', default: 'results' },
      'cpu-prof': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const opts = {
    rounds: parseWhole('rounds', values.rounds, 1, 20),
    duration: parseWhole('duration', values.duration, 2, 600),
    connections: parseWhole('connections', values.connections, 1, 1000),
    sessions: parseWhole('sessions', values.sessions, 1, 100_000),
    warmup: parseWhole('warmup', values.warmup, 0, 120),
    runWarmup: parseWhole('run-warmup', values['run-warmup'], 0, 60),
    scryptCost: LOAD_TEST_SCRYPT_COST,
    cpuProf: values['cpu-prof'],
    out: values.out,
  };
  if (opts.sessions < opts.connections)
    throw new Error('--sessions must be at least --connections (each connection needs its own sessions)');
  return opts;
}

const say = (line: string) => console.error(line);
const versionOf = (pkg: string) =>
  (JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

/** Everything started, stopped in reverse order at the end, on failure and on Ctrl+C. */
const started: Array<{ name: string; stop(): Promise<void> }> = [];
async function stopAll(): Promise<void> {
  for (const s of started.splice(0).reverse())
    await s.stop().catch((err: Error) => say(`bench: stopping ${s.name} failed: ${err.message}`));
}
stopOnSignals('bench', say, stopAll);

async function main(): Promise<void> {
  let opts: ReturnType<typeof options>;
  try {
    opts = options();
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  const { out, ...benchOptions } = opts;
  const name = `bench-${stamp()}`;
  const outDir = resolve(out);
  const logDir = join(outDir, `${name}-logs`);
  mkdirSync(logDir, { recursive: true });
  const record: BenchRecord = {
    startedAt: new Date().toISOString(),
    finishedAt: '',
    command: commandLine('bench'),
    machine: machine(),
    options: benchOptions,
    versions: {
      node: process.version,
      ...Object.fromEntries(
        ['express-session', 'connect-pg-simple', 'connect-redis', 'redis', 'pg', 'undici'].map((pkg) => [pkg, versionOf(pkg)]),
      ),
    },
    runs: [],
    sessionRowWrites: {},
    statements: {},
    bytesPerSession: {},
    notes: [],
  };
  say(
    `bench: load average ${loadavg()[0]!.toFixed(2)} on ${record.machine.cpus} cores; figures taken while other work runs are not comparable`,
  );

  try {
    const redisBin = await ensureTool(redisServer, say);
    if ('missing' in redisBin) throw new Error(redisBin.missing);
    const pgbenchBin = await ensureTool(pgbenchTool, say);
    if ('missing' in pgbenchBin) record.notes.push(`pgbench ceiling skipped: ${pgbenchBin.missing}`);

    const postgres = await startBenchPostgres(say);
    started.push({ name: 'PostgreSQL', stop: () => postgres.stop() });
    const redis = await startRedis(redisBin.path, say);
    started.push({ name: 'redis-server', stop: () => redis.stop() });
    const redisStats = createClient({ url: redis.url });
    redisStats.on('error', () => {});
    await redisStats.connect();
    started.push({ name: 'redis stats client', stop: async () => void (await redisStats.quit()) });
    record.versions.postgres = postgres.version;
    record.versions['redis-server'] = /redis_version:(\S+)/.exec(await redisStats.info('server'))?.[1] ?? '?';

    const urls: Partial<Record<VariantId, string>> = {};
    for (const v of VARIANTS) if (v.database) urls[v.id] = await postgres.database(v.database);
    const pgbenchPath = 'path' in pgbenchBin ? pgbenchBin.path : undefined;
    const pgbenchUrl = pgbenchPath ? await postgres.database(PGBENCH_DATABASE, { migrated: false }) : undefined;
    if (pgbenchPath && pgbenchUrl) await initPgbench(pgbenchPath, pgbenchUrl);

    const secret = randomBytes(48).toString('base64url');
    const fleets = new Map<VariantId, Cluster>();
    for (const v of VARIANTS) {
      say(`bench: starting ${v.label} (${v.replicas} replica${v.replicas > 1 ? 's' : ''} behind nginx)`);
      const fleet = await startCluster({
        replicas: v.replicas,
        args: replicaArgs(v, opts.cpuProf && v.id !== 'nginx' ? join(logDir, 'profiles', v.id) : undefined),
        env: replicaEnv(v, { databaseUrl: urls[v.id], redisUrl: redis.url, secret }),
        baseEnv: {},
        port: await freePort(),
        logDir: join(logDir, v.id),
        log: say,
      });
      fleets.set(v.id, fleet);
      started.push({ name: v.label, stop: () => fleet.stop() });
    }

    const prefix = runPrefix();
    const sessions = new Map<VariantId, VirtualUser[]>();
    for (const v of VARIANTS) {
      if (v.id === 'nginx') continue;
      say(`bench: logging in ${opts.sessions} sessions on ${v.label}`);
      sessions.set(v.id, await createUsers(fleets.get(v.id)!.url, opts.sessions, `${prefix}${v.id.replace(/\W/g, '')}`, 16));
    }
    // The trivial server ignores cookies: any sessions give it the same requests.
    sessions.set('nginx', sessions.get('memory')!);

    if (opts.warmup > 0) {
      for (const v of VARIANTS) {
        say(`bench: warm-up, ${v.label}, ${opts.warmup} s`);
        await runTraffic({
          url: fleets.get(v.id)!.url,
          sessions: sessions.get(v.id)!,
          connections: opts.connections,
          seconds: opts.warmup,
        });
      }
    }

    const databases = VARIANTS.flatMap((v) => (v.database ? [v.database] : []));
    say('bench: waiting for the session tables’ write counts to settle');
    const writesBefore = await postgres.settledSessionWrites(databases, say);
    const ctx: MeasureContext = {
      postgres,
      redisPid: redis.pid,
      redisStats,
      fleets,
      sessions,
      // As many clients as the project's pools may open.
      pgbench:
        pgbenchPath && pgbenchUrl
          ? { binary: pgbenchPath, url: pgbenchUrl, clients: VARIANTS.find((v) => v.id === 'project')!.replicas * PG_POOL_MAX }
          : undefined,
      connections: opts.connections,
      seconds: opts.duration,
      warmupSeconds: opts.runWarmup,
      statementTotals: new Map(),
    };

    for (let round = 1; round <= opts.rounds; round++) {
      for (const run of ROUND) {
        const rec = await measureRun(ctx, run, round);
        if (!rec) continue;
        record.runs.push(rec);
        say(
          `bench: round ${round}/${opts.rounds} ${run.label.padEnd(28)} ${String(rec.requestsPerSecond).padStart(6)} ${run.id === 'pgbench' ? 'tps  ' : 'req/s'}` +
            `  p50 ${rec.latencyMs.p50} ms  p99 ${rec.latencyMs.p99} ms  errors ${rec.errors}  other processes ${Math.round(rec.othersCpuShare * 100)} % CPU`,
        );
        await sleep(500);
      }
    }
    await fleets.get('project')!.serveWith(3);

    say('bench: waiting for the session tables’ write counts to settle');
    const writesAfter = await postgres.settledSessionWrites(databases, say);
    for (const db of databases) record.sessionRowWrites[db] = writesAfter[db]! - writesBefore[db]!;
    // Only statements a run called (measure.ts), most called first.
    for (const [db, totals] of ctx.statementTotals) record.statements[db] = [...totals.values()].sort((a, b) => b.calls - a.calls);

    say('bench: bytes per stored session');
    record.bytesPerSession.postgres = { ...(await postgres.sessionBytes('bench_project', BYTES_COPIES)), copies: BYTES_COPIES };
    record.bytesPerSession.redis = await redisSessionBytes(redis.url, BYTES_COPIES);
  } finally {
    await stopAll();
  }
  if (opts.cpuProf) {
    record.notes.push('The app replicas ran under the V8 CPU profiler (--cpu-prof): their figures are lower than without it.');
    record.profiles = {};
    for (const v of VARIANTS) {
      const profile = v.id === 'nginx' ? undefined : await summariseProfiles(join(logDir, 'profiles', v.id));
      if (profile) record.profiles[v.id] = profile;
    }
  }

  record.finishedAt = new Date().toISOString();
  record.machine.loadAfter = loadAverage();
  const summary = summarise(record);
  const files = writeBenchReport(record, summary, outDir, name);
  console.log(`\n${files.text}\n\nReport: ${files.html}\nData:   ${files.json}\nLogs:   ${logDir}`);
}

main().catch(async (err: Error) => {
  say(`bench: ${err.stack ?? err.message}`);
  await stopAll();
  process.exitCode = 1;
});
