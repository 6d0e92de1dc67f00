/**
 * Memory stays flat: many sessions created on the Postgres store while every replica's memory is sampled, then the
 * same on one replica with SESSION_STORE=memory for comparison.
 */
import pg from 'pg';
import { createUsers } from '../users.js';
import { measureStore, idleSeconds, warmUp, type SeriesAnalysis, type StoreRun } from '../memory/measure.js';
import { clusterSampler, urlSampler } from '../memory/sampler.js';
import { GC_SIGNAL, LOAD_TEST_SCRYPT_COST } from '../target.js';
import { round } from '../stats.js';
import type { Chart, Figure, Scenario, Table } from './types.js';

/** Logins in flight: enough to keep two cores busy, one user each. */
const CONNECTIONS = 24;
/** The memory store's replica must hold every session in its own heap: the memory scenario only compares. */
const MEMORY_STORE_ENV = { SESSION_STORE: 'memory', NODE_ENV: 'development' };

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
    title: 'Memory per replica: settled (idle) before and after the sessions were created',
    columns: [
      'replica',
      'sessions created',
      'heap before → after (MB)',
      'RSS before → after (MB)',
      'heap MB per 100k sessions',
      'RSS MB per 100k sessions',
      'heap slope under load (MB/min)',
    ],
    rows: runs.map((s) => [
      s.name,
      s.sessions,
      `${s.heapBeforeMB} → ${s.heapAfterMB}`,
      `${s.rssBeforeMB} → ${s.rssAfterMB}`,
      s.heapPer100kMB,
      s.rssPer100kMB,
      s.heapPerMinuteMB,
    ]),
  };
}

const PALETTE = ['#2b6cb0', '#38a169', '#805ad5', '#319795', '#d69e2e'];

function memoryCharts(runs: SeriesAnalysis[]): Chart[] {
  const colour = (s: SeriesAnalysis, i: number) => (s.store === 'memory' ? '#e53e3e' : PALETTE[i % PALETTE.length]!);
  // Where each store's load started and ended (idle before and after).
  const markers = (['postgres', 'memory'] as const).flatMap((store) => {
    const points = runs.find((s) => s.store === store)?.points ?? [];
    const start = points.find((p) => p.phase === 'load');
    const end = points.find((p) => p.phase === 'after');
    const who = store === 'postgres' ? 'Postgres' : 'memory';
    return [start && { x: start.t, label: 'measured load' }, end && { x: end.t, label: `${who} ends` }].filter((m) => m !== undefined);
  });
  const chart = (title: string, pick: (p: SeriesAnalysis['points'][number]) => number): Chart => ({
    title,
    x: 'seconds since the store’s run started',
    y: 'MB',
    series: runs.map((s, i) => ({ name: s.name, color: colour(s, i), points: s.points.map((p) => [p.t, pick(p)] as [number, number]) })),
    markers,
  });
  return [
    chart('V8 heap in use while sessions are created', (p) => p.heapMB),
    chart('Resident memory (RSS) while sessions are created', (p) => p.rssMB),
  ];
}

export const memory: Scenario = {
  name: 'memory',
  title: 'Memory stays flat as sessions accumulate',
  proves:
    'With the Postgres store, a replica’s memory does not grow with the number of sessions: they live in PostgreSQL. ' +
    'The same run against SESSION_STORE=memory (one replica, development only) shows the growth the Postgres store avoids.',
  unsupported: (target, options) =>
    target.local || options.metricsUrl
      ? undefined
      : 'it samples a replica’s memory on its metrics port, which is not behind the balancer: pass --metrics-url (one replica’s port 9464)',
  async run({ target, options, prefix, progress, log }) {
    const users = await createUsers(target.url, CONNECTIONS, `${prefix}m`);
    const local = target.local;
    const nameOf = (store: string) => (instance: string, i: number) => (local ? `${store} · replica ${i + 1}` : `${store} · ${instance}`);
    const postgres: StoreRun = await measureStore({
      url: target.url,
      store: 'postgres',
      users,
      sessions: options.sessions,
      maxSeconds: options.memorySeconds,
      sampler: local ? clusterSampler(local.cluster()) : urlSampler(options.metricsUrl!),
      nameOf: nameOf('Postgres store'),
      progress: (counts) => progress('memory: Postgres store', counts),
    });
    const notes: string[] = [];
    const warm = warmUp(options.memorySeconds, options.sessions);
    const table = local ? await sessionTable(local.postgres.url) : undefined;

    let compared: StoreRun | undefined;
    if (local) {
      const single = await local.startExtraCluster(MEMORY_STORE_ENV, 1, 'memory-store');
      try {
        compared = await measureStore({
          url: single.url,
          store: 'memory',
          users,
          sessions: options.sessions,
          maxSeconds: options.memorySeconds,
          sampler: clusterSampler(single),
          nameOf: () => 'memory store · 1 replica',
          progress: (counts) => progress('memory: memory store', counts),
        });
      } finally {
        await single.stop();
      }
    } else {
      notes.push(
        'The comparison with SESSION_STORE=memory needs replicas started with another configuration: it runs only on the local cluster.',
      );
      log('memory: comparison with the memory store skipped (--url)');
    }

    const series = [...postgres.series, ...(compared?.series ?? [])];
    // The Postgres store's figures are those of its worst replica.
    const pg = postgres.series.reduce((a, b) => (b.heapAfterMB - b.heapBeforeMB > a.heapAfterMB - a.heapBeforeMB ? b : a));
    const mem = compared?.series[0];
    const figures: Figure[] = [pg, ...(mem ? [mem] : [])].flatMap((s) => {
      const store = s.store === 'postgres' ? 'Postgres store (worst replica)' : 'memory store';
      return [
        {
          label: `${store}: heap kept`,
          value: round(s.heapAfterMB - s.heapBeforeMB),
          unit: `MB after ${s.sessions.toLocaleString('en-US')} sessions`,
        },
        { label: `${store}: heap per 100k sessions`, value: s.heapPer100kMB, unit: 'MB' },
        { label: `${store}: heap slope after warm-up`, value: s.heapPerMinuteMB, unit: 'MB/min' },
        { label: `${store}: RSS per 100k sessions`, value: s.rssPer100kMB, unit: 'MB' },
      ];
    });
    const describe = (s: SeriesAnalysis) =>
      `+${round(s.heapAfterMB - s.heapBeforeMB)} MB heap after ${s.sessions.toLocaleString('en-US')} sessions (${s.heapPer100kMB} MB per 100k, slope ${s.heapPerMinuteMB} MB/min)`;
    const tables: Table[] = [seriesTable(series)];
    const failures = {
      ...postgres.failures,
      ...Object.fromEntries(Object.entries(compared?.failures ?? {}).map(([k, v]) => [`memory store: ${k}`, v])),
    };
    if (Object.keys(failures).length) tables.push({ title: 'Failed logins', columns: ['kind', 'count'], rows: Object.entries(failures) });

    notes.push(
      `Sessions are created by logins without a cookie (each makes a new session), ${CONNECTIONS} at a time. ` +
        `Postgres store: ${postgres.sessions} sessions in ${postgres.seconds.toFixed(0)} s` +
        (compared ? `; memory store: ${compared.sessions} in ${compared.seconds.toFixed(0)} s.` : '.'),
      local
        ? `Each sample of a local replica is taken right after a full garbage collection (the load-test replicas run with --expose-gc and collect on ${GC_SIGNAL}: loadtests/memory/gc-on-signal.mjs), so the heap plotted is what the process keeps alive, not garbage awaiting collection.`
        : `The heap of a --url deployment includes garbage awaiting collection (a saw-tooth under load), so the settled figures are the lowest heap of ${idleSeconds(false)} s of idling before and after the measured load, where V8's memory reducer collects.`,
      'A warmed-up process still grows by about a megabyte over its first minutes whatever it serves (compiled code, caches): over a short run, that megabyte divided by few sessions makes a large per-100k figure. What tells the stores apart is whether the heap keeps rising with the sessions (the plot, the slope); long runs (--memory-seconds) make the per-100k figures converge.',
      `Each store: a warm-up load (${warm.seconds} s or ${warm.sessions} sessions, not counted: a fresh process grows for a while whatever it does), a short idle, the measured load, a short idle. MB per 100k sessions: the settled heap (or RSS) after the measured load minus before it, divided by the sessions the replica created in it, times 100,000. Slope after warm-up: a least-squares line through the heap samples of the measured load.`,
    );
    if (local)
      notes.push(
        `Replicas ran with PASSWORD_SCRYPT_COST=${LOAD_TEST_SCRYPT_COST} (the app's default is 16384) so that logins are cheap; the memory-store replica ran with NODE_ENV=development, the only mode that accepts it.`,
      );
    if (table)
      notes.push(
        `PostgreSQL held ${table.rows} sessions in ${table.mb.toFixed(1)} MB (table and indexes) at the end of the Postgres store's run.`,
      );
    const limited = postgres.sessions < options.sessions || (compared && compared.sessions < options.sessions);
    if (limited)
      notes.push(
        `Not every store reached ${options.sessions} sessions within --memory-seconds ${options.memorySeconds}: the per-100k figures scale what the sessions that were created left behind.`,
      );

    return {
      status: 'measured',
      headline:
        `Postgres store, worst of ${postgres.series.length} replicas: ${describe(pg)}; ` +
        (mem ? `memory store: ${describe(mem)}` : 'memory store not compared (--url)'),
      figures,
      tables,
      charts: memoryCharts(series),
      notes,
    };
  },
};
