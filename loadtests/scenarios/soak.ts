/**
 * A soak: --minutes of mixed traffic with logins at production settings, while every replica's RSS and heap are
 * sampled; the report plots both per replica over time and states each one's slope over the last half, in MB per hour.
 */
import { createUsers } from '../users.js';
import { startLoad } from '../load/run-load.js';
import { startLoginLoad } from '../memory/login-load.js';
import { clusterSampler, urlSampler } from '../memory/sampler.js';
import { lastHalfSlope, MemoryTrack, peakRss, type Point } from '../memory/track.js';
import { round } from '../stats.js';
import { failureFigures, failureTables, loadFigures } from './load-report.js';
import { lostSessions } from './load-around.js';
import { productionCluster, scryptCostLabel } from './production-settings.js';
import { needsMetrics } from './needs-local.js';
import type { Chart, Scenario, Table } from './types.js';

/** Clients logging in without a cookie all along, beside the users' traffic: a new session each time. */
const LOGIN_CLIENTS = 4;
const SAMPLE_EVERY_MS = 5_000;
const PALETTE = ['#2b6cb0', '#38a169', '#805ad5', '#319795', '#d69e2e', '#dd6b20'];

interface ReplicaSoak {
  name: string;
  points: Point[];
  rssStartMB: number;
  rssPeakMB: number;
  rssEndMB: number;
  rssPerHourMB: number;
  heapPerHourMB: number;
}

function analyse(name: string, points: Point[]): ReplicaSoak {
  const hourly = (pick: (p: Point) => number) => round(lastHalfSlope(points.map((p) => [p.t / 3600, pick(p)])));
  return {
    name,
    points,
    rssStartMB: round(points[0]!.rssMB),
    rssPeakMB: round(peakRss(points)),
    rssEndMB: round(points.at(-1)!.rssMB),
    rssPerHourMB: hourly((p) => p.rssMB),
    heapPerHourMB: hourly((p) => p.heapMB),
  };
}

function charts(replicas: ReplicaSoak[]): Chart[] {
  const chart = (title: string, pick: (p: Point) => number): Chart => ({
    title,
    x: 'minutes',
    y: 'MB',
    series: replicas.map((r, i) => ({
      name: r.name,
      color: PALETTE[i % PALETTE.length],
      points: r.points.map((p) => [round(p.t / 60, 2), pick(p)] as [number, number]),
    })),
  });
  return [
    chart('Resident memory (RSS) per replica', (p) => p.rssMB),
    chart('V8 heap in use per replica (garbage included)', (p) => p.heapMB),
  ];
}

export const soak: Scenario = {
  name: 'soak',
  title: 'Memory over a long run of mixed traffic',
  proves:
    'Over --minutes of the users’ mixed traffic plus continuous logins, at production settings, each replica’s resident ' +
    'memory levels off: its slope over the last half, in MB per hour, is what a container limit would have to absorb.',
  unsupported: needsMetrics,
  async run(ctx) {
    const { target, options, prefix, progress } = ctx;
    const cluster = target.local && (await productionCluster(target.local, ctx, 'soak', target.local.replicas));
    try {
      const url = cluster?.url ?? target.url;
      const users = await createUsers(url, options.users, `${prefix}k`);
      const loginUsers = await createUsers(url, LOGIN_CLIENTS, `${prefix}kl`);
      const seconds = options.minutes * 60;
      const track = new MemoryTrack(cluster ? clusterSampler(cluster) : urlSampler(options.metricsUrl!), SAMPLE_EVERY_MS);
      track.phase = 'load';
      const load = startLoad({ url, users, maxSeconds: seconds });
      const logins = startLoginLoad(url, loginUsers, Number.MAX_SAFE_INTEGER, seconds);
      const shown = progress('soak', () => load.recorder.totals);
      const [result, loginResult] = await track.during(Promise.all([load.done, logins.done])).finally(() => shown.end());
      const lostAtEnd = await lostSessions(url, users);

      const replicas = [...track.series].map(([instance, points], i) => analyse(cluster ? `replica ${i + 1}` : instance, points));
      const failures = failureFigures(result, lostAtEnd);
      const loginFailures = Object.values(loginResult.failures).reduce((a, b) => a + b, 0);
      const worst = replicas.reduce((a, b) => (b.rssPerHourMB > a.rssPerHourMB ? b : a));
      const table: Table = {
        title: 'Memory per replica over the soak (RSS: what a container limit counts)',
        columns: ['replica', 'RSS start → peak → end (MB)', 'RSS slope, last half (MB/hour)', 'heap slope, last half (MB/hour)'],
        rows: replicas.map((r) => [r.name, `${r.rssStartMB} → ${r.rssPeakMB} → ${r.rssEndMB}`, r.rssPerHourMB, r.heapPerHourMB]),
      };
      return {
        status: failures.ok && loginFailures === 0 ? 'passed' : 'failed',
        headline:
          `${options.minutes} min, ${result.requests.toLocaleString('en-US')} requests and ${loginResult.sessions.toLocaleString('en-US')} logins: ` +
          `RSS slope over the last half at most ${worst.rssPerHourMB} MB/hour (${worst.name}, ${worst.rssStartMB} → ${worst.rssEndMB} MB); ` +
          `${result.failures} failed requests, ${loginFailures} failed logins`,
        figures: [
          ...loadFigures(result),
          failures.failed,
          failures.lost,
          { label: 'logins (new sessions)', value: loginResult.sessions },
          { label: 'failed logins', value: loginFailures, goal: '0', ok: loginFailures === 0 },
          { label: 'worst RSS slope over the last half', value: worst.rssPerHourMB, unit: 'MB/hour' },
        ],
        tables: [table, ...failureTables(result)],
        charts: charts(replicas),
        notes: [
          `Replicas ran the compiled app with ${scryptCostLabel(options)} and the shipped settings otherwise; no forced garbage collection. ${options.users} users run the mixed traffic of the sharing scenario (their sign-ups hash too) and ${LOGIN_CLIENTS} more clients log in without a cookie all along.`,
          `Memory sampled every ${SAMPLE_EVERY_MS / 1000} s: RSS from /proc (VmRSS), heap from each replica's metrics. Slope: least-squares line through the samples of the last half of the run.`,
        ],
      };
    } finally {
      await cluster?.stop();
    }
  },
};
