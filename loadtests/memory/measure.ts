/**
 * Creates sessions on one store (logins without a cookie) while sampling every replica's RSS and heap; the figures
 * per replica: RSS at the start of the measured load, its peak, after, and the slope over the last half.
 */
import type { VirtualUser } from '../users.js';
import type { Progress, Counts } from '../progress.js';
import { round } from '../stats.js';
import { startLoginLoad, type LoginLoadResult } from './login-load.js';
import type { Sampler } from './sampler.js';
import { lastHalfSlope, MemoryTrack, peakRss, type Point } from './track.js';

export interface SeriesAnalysis {
  name: string;
  store: 'postgres' | 'memory';
  points: Point[];
  /** Sessions this replica created in the measured load (after warm-up). */
  sessions: number;
  /** RSS when the measured load started (after warm-up), its highest sample, and after the load. */
  rssStartMB: number;
  rssPeakMB: number;
  rssEndMB: number;
  heapStartMB: number;
  heapEndMB: number;
  /** Least-squares slope over the last half of the measured load, in MB per 100,000 sessions this replica created. */
  rssSlopePer100kMB: number;
  heapSlopePer100kMB: number;
}

export interface StoreRun extends LoginLoadResult {
  series: SeriesAnalysis[];
}

/**
 * A fresh process grows for a while whatever it does (compiled code, pools, malloc arenas): a load before the
 * measured one, whose sessions are not counted, keeps that out of the slope.
 */
export const warmUp = (maxSeconds: number, sessions: number) => ({
  seconds: Math.max(5, Math.min(60, Math.round(maxSeconds / 20))),
  sessions: Math.max(100, Math.round(sessions / 50)),
});
const IDLE_AFTER_SECONDS = 5;
/** 100,000 logins at the production cost take most of an hour: a sample every 2 s is ~1,500 points per replica. */
const SAMPLE_EVERY_MS = 2_000;

function analyse(name: string, store: SeriesAnalysis['store'], points: Point[]): SeriesAnalysis {
  const load = points.filter((p) => p.phase === 'load');
  const start = points.filter((p) => p.phase === 'warm-up').at(-1) ?? load[0]!;
  const end = points.at(-1)!;
  const per100k = (pick: (p: Point) => number) => round(lastHalfSlope(load.map((p) => [p.sessions, pick(p)])) * 100_000);
  return {
    name,
    store,
    points,
    sessions: Math.max(0, ...load.map((p) => p.sessions)),
    rssStartMB: round(start.rssMB),
    rssPeakMB: round(peakRss(points)),
    rssEndMB: round(end.rssMB),
    heapStartMB: round(start.heapMB),
    heapEndMB: round(end.heapMB),
    rssSlopePer100kMB: per100k((p) => p.rssMB),
    heapSlopePer100kMB: per100k((p) => p.heapMB),
  };
}

export interface MeasureOptions {
  url: string;
  store: SeriesAnalysis['store'];
  users: VirtualUser[];
  sessions: number;
  maxSeconds: number;
  sampler: Sampler;
  /** Display name of a replica from its instance id and position. */
  nameOf(instance: string, index: number): string;
  progress(counts: () => Counts): Progress;
}

export async function measureStore(opts: MeasureOptions): Promise<StoreRun> {
  const track = new MemoryTrack(opts.sampler, SAMPLE_EVERY_MS);
  const logins = async (sessions: number, maxSeconds: number, label: string) => {
    const load = startLoginLoad(opts.url, opts.users, sessions, maxSeconds);
    track.sessions = load.perInstance;
    const shown = opts.progress(load.counts);
    shown.phase(label);
    try {
      return await track.during(load.done);
    } catch (err) {
      load.stop();
      throw err;
    } finally {
      shown.end();
    }
  };

  await track.sample();
  const warm = warmUp(opts.maxSeconds, opts.sessions);
  await logins(warm.sessions, warm.seconds, 'warm-up');
  track.phase = 'load';
  const result = await logins(opts.sessions, opts.maxSeconds, 'measured');
  track.phase = 'after';
  await track.idle(IDLE_AFTER_SECONDS);
  return {
    ...result,
    // Through a balancer a replica may have gone unsampled: without samples under load it has no figures.
    series: [...track.series]
      .filter(([, points]) => points.some((p) => p.phase === 'load'))
      .map(([instance, points], i) => analyse(opts.nameOf(instance, i), opts.store, points)),
  };
}
