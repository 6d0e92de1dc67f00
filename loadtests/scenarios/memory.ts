/**
 * Memory stays flat as a container sees it: RSS (and the heap beside it) per replica while 100,000 sessions are
 * created on the Postgres store at production settings, then the same on one replica with SESSION_STORE=memory.
 * The local run puts three settings side by side behind one nginx, so one run shows what the growth was and what
 * fixed it: the shipped settings, the same without the fixed malloc mmap threshold, and neither that nor the bound on
 * concurrent password hashing (the build before both).
 */
import pg from 'pg';
import { createUsers } from '../users.js';
import { measureStore, warmUp, type SeriesAnalysis, type StoreRun } from '../memory/measure.js';
import { clusterSampler, urlSampler } from '../memory/sampler.js';
import { productionCluster, scryptCostLabel } from './production-settings.js';
import { needsMetrics } from './needs-local.js';
import type { Chart, Figure, Scenario, Table } from './types.js';

/** Logins in flight: 8 per replica, more than its hashing slots (so each has a queue) and fewer than its queue holds. */
const CONNECTIONS = 24;
/** The memory store's replica must hold every session in its own heap: the memory scenario only compares. */
const MEMORY_STORE_ENV = { SESSION_STORE: 'memory', NODE_ENV: 'development' };

/** The Postgres store's replicas, side by side: what each one runs with (undefined: unset, glibc's or the app's default). */
const SIDE_BY_SIDE: Array<{ label: string; env: NodeJS.ProcessEnv }> = [
  { label: 'shipped settings', env: {} },
  { label: 'without the fixed mmap threshold', env: { MALLOC_MMAP_THRESHOLD_: undefined } },
  {
    label: 'before both fixes: 4 hashes at once, glibc defaults',
    env: { MALLOC_MMAP_THRESHOLD_: undefined, PASSWORD_HASH_CONCURRENCY: '4' },
  },
];

async function sessionTable(databaseUrl: string): Promise<{ rows: number; mb: number }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ rows: number; bytes: string }>(
      `SELECT count(*)::int AS rows, pg_total_relation_size('session')::text AS bytes FROM session`,
    );
    return { rows: rows[0]!.rows, mb: Number(rows[0]!.bytes) / 1024 / 1024 };
  } finally {
    await client.end();
  }
}

function seriesTable(runs: SeriesAnalysis[]): Table {
  return {
    title: 'Memory per replica: RSS (what a container limit counts) and the V8 heap, no forced garbage collection',
    columns: [
      'replica',
      'sessions created',
      'RSS start → peak → end (MB)',
      'RSS slope, last half (MB per 100k sessions)',
      'heap start → end (MB)',
      'heap slope, last half (MB per 100k sessions)',
    ],
    rows: runs.map((s) => [
      s.name,
      s.sessions,
      `${s.rssStartMB} → ${s.rssPeakMB} → ${s.rssEndMB}`,
      s.rssSlopePer100kMB,
      `${s.heapStartMB} → ${s.heapEndMB}`,
      s.heapSlopePer100kMB,
    ]),
  };
}

const PALETTE = ['#2b6cb0', '#38a169', '#805ad5', '#319795', '#d69e2e'];

function memoryCharts(runs: SeriesAnalysis[]): Chart[] {
  const colour = (s: SeriesAnalysis, i: number) => (s.store === 'memory' ? '#e53e3e' : PALETTE[i % PALETTE.length]!);
  const chart = (title: string, pick: (p: SeriesAnalysis['points'][number]) => number): Chart => ({
    title,
    x: 'sessions created by the replica in the measured load',
    y: 'MB',
    series: runs.map((s, i) => ({
      name: s.name,
      color: colour(s, i),
      points: s.points.filter((p) => p.phase === 'load').map((p) => [p.sessions, pick(p)] as [number, number]),
    })),
  });
  return [
    chart('Resident memory (RSS) as sessions are created', (p) => p.rssMB),
    chart('V8 heap in use as sessions are created (garbage included)', (p) => p.heapMB),
  ];
}

const describe = (s: SeriesAnalysis) =>
  `RSS ${s.rssStartMB} → ${s.rssEndMB} MB (peak ${s.rssPeakMB}), ${s.rssSlopePer100kMB} MB per 100k sessions over the last half`;

export const memory: Scenario = {
  name: 'memory',
  title: 'Memory stays flat as sessions accumulate',
  proves:
    'With the Postgres store, a replica’s resident memory levels off however many sessions it creates: they live in ' +
    'PostgreSQL. The same logins against SESSION_STORE=memory (one replica, development only) show the growth the Postgres store avoids.',
  unsupported: needsMetrics,
  async run(ctx) {
    const { target, options, prefix, progress, log } = ctx;
    const local = target.local;
    const postgresCluster =
      local && (await productionCluster(local, ctx, 'memory-postgres', SIDE_BY_SIDE.length, { replicaEnv: (i) => SIDE_BY_SIDE[i]!.env }));
    let postgres: StoreRun;
    let compared: StoreRun | undefined;
    const notes: string[] = [];
    try {
      const url = postgresCluster?.url ?? target.url;
      const users = await createUsers(url, CONNECTIONS, `${prefix}m`);
      postgres = await measureStore({
        url,
        store: 'postgres',
        users,
        sessions: options.sessions,
        maxSeconds: options.memorySeconds,
        sampler: postgresCluster ? clusterSampler(postgresCluster) : urlSampler(options.metricsUrl!),
        nameOf: (instance, i) => (postgresCluster ? `Postgres store · ${SIDE_BY_SIDE[i]!.label}` : `Postgres store · ${instance}`),
        progress: (counts) => progress('memory: Postgres store', counts),
      });
    } finally {
      await postgresCluster?.stop();
    }
    const table = local ? await sessionTable(local.postgres.url) : undefined;

    if (local) {
      const single = await productionCluster(local, ctx, 'memory-store', 1, { env: MEMORY_STORE_ENV });
      try {
        compared = await measureStore({
          url: single.url,
          store: 'memory',
          users: await createUsers(single.url, CONNECTIONS, `${prefix}n`),
          sessions: options.sessions,
          maxSeconds: options.memorySeconds,
          sampler: clusterSampler(single),
          nameOf: () => 'memory store · 1 replica, shipped settings',
          progress: (counts) => progress('memory: memory store', counts),
        });
      } finally {
        await single.stop();
      }
    } else {
      notes.push('The comparisons need replicas started with other settings: they run only on the local cluster.');
      log('memory: comparisons skipped (--url)');
    }

    const series = [...postgres.series, ...(compared?.series ?? [])];
    const shipped = postgres.series[0]!;
    const mem = compared?.series[0];
    const figures: Figure[] = [...postgres.series, ...(mem ? [mem] : [])].flatMap((s) => [
      { label: `${s.name}: RSS after the load`, value: s.rssEndMB, unit: `MB (from ${s.rssStartMB}, peak ${s.rssPeakMB})` },
      { label: `${s.name}: RSS slope over the last half`, value: s.rssSlopePer100kMB, unit: 'MB per 100k sessions' },
      { label: `${s.name}: heap slope over the last half`, value: s.heapSlopePer100kMB, unit: 'MB per 100k sessions' },
    ]);
    const retried = Object.values(postgres.retriedAfter).reduce((a, b) => a + b, 0);
    figures.push({ label: 'logins answered 503 + Retry-After and sent again', value: retried });
    const tables: Table[] = [seriesTable(series)];
    const failures = {
      ...postgres.failures,
      ...Object.fromEntries(Object.entries(compared?.failures ?? {}).map(([k, v]) => [`memory store: ${k}`, v])),
    };
    if (Object.keys(failures).length) tables.push({ title: 'Failed logins', columns: ['kind', 'count'], rows: Object.entries(failures) });

    const warm = warmUp(options.memorySeconds, options.sessions);
    notes.push(
      `Replicas ran the compiled app (node dist/app/server.js, as the Dockerfile does) with ${scryptCostLabel(options)}: no forced garbage collection, so the heap plotted includes garbage awaiting collection. RSS (VmRSS from /proc) is what docker stats and the kubelet count against a memory limit.`,
      `Sessions are created by logins without a cookie (each makes a new session), ${CONNECTIONS} at a time. ` +
        `Postgres store: ${postgres.sessions.toLocaleString('en-US')} sessions in ${postgres.seconds.toFixed(0)} s` +
        (compared ? `; memory store: ${compared.sessions.toLocaleString('en-US')} in ${compared.seconds.toFixed(0)} s.` : '.'),
      local
        ? `The Postgres store's three replicas run side by side behind one nginx, each with other settings: ${SIDE_BY_SIDE.map(
            (s) =>
              `${s.label} (${Object.entries(s.env)
                .map(([k, v]) => `${k}=${v ?? 'unset'}`)
                .join(', ')})`,
          ).join('; ')}.`
        : 'A --url deployment: the one replica its --metrics-url names.',
      `Each store: a warm-up (${warm.sessions} sessions or ${warm.seconds} s, not counted), the measured load, ${5} s idle. Start = the last sample of the warm-up; slope = least-squares line through the samples of the last half of the measured load, RSS (or heap) against the sessions that replica had created, times 100,000.`,
    );
    if (table)
      notes.push(`PostgreSQL held ${table.rows} sessions in ${table.mb.toFixed(1)} MB (table and indexes) after the Postgres store's run.`);
    if (postgres.sessions < options.sessions || (compared && compared.sessions < options.sessions))
      notes.push(`Not every store reached ${options.sessions} sessions within --memory-seconds ${options.memorySeconds}.`);

    return {
      status: 'measured',
      headline:
        `Postgres store, ${shipped.name}: ${describe(shipped)}; ` +
        (mem ? `memory store: ${describe(mem)}` : 'memory store not compared (--url)'),
      figures,
      tables,
      charts: memoryCharts(series),
      notes,
    };
  },
};
