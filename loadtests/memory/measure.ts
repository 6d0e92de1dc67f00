/** Creates sessions on one store while sampling every replica's memory once a second; fits lines after warm-up. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { VirtualUser } from '../users.js';
import type { Progress, Counts } from '../progress.js';
import { linearRegression, round } from '../stats.js';
import { startLoginLoad } from './login-load.js';
import type { Sampler } from './sampler.js';

export interface Point {
  /** Seconds since the store's run started. */
  t: number;
  phase: 'warm-up' | 'before' | 'load' | 'after';
  /** Sessions this replica had created by then in the measured load. */
  sessions: number;
  rssMB: number;
  heapMB: number;
}

export interface SeriesAnalysis {
  name: string;
  store: 'postgres' | 'memory';
  points: Point[];
  /** Sessions this replica created in the measured load (after warm-up). */
  sessions: number;
  /** Settled (idle, collected) heap in use and RSS before and after the measured load. */
  heapBeforeMB: number;
  heapAfterMB: number;
  rssBeforeMB: number;
  rssAfterMB: number;
  /** What the sessions left behind, per 100,000 sessions this replica created. */
  heapPer100kMB: number;
  rssPer100kMB: number;
  /** Slope of a least-squares line through the heap samples of the measured load. */
  heapPerMinuteMB: number;
}

export interface StoreRun {
  sessions: number;
  seconds: number;
  failures: Record<string, number>;
  series: SeriesAnalysis[];
}

/**
 * A fresh process grows for a while whatever it does (compiled code, pools, caches): a short load before the
 * measured one, whose sessions are not counted, keeps that out of the figures.
 */
export const warmUp = (maxSeconds: number, sessions: number) => ({
  seconds: Math.max(3, Math.min(10, Math.round(maxSeconds / 6))),
  sessions: Math.max(100, Math.round(sessions / 20)),
});
/**
 * Idle periods around the measured load, whose lowest heap is the settled figure. Local replicas are sampled right
 * after a full collection, so a few seconds show it. Otherwise the heap in use is a saw-tooth (garbage piles up
 * until a collection, which under load may not come for a minute); idle, V8's memory reducer collects within
 * seconds (it starts after 8 s), hence the longer wait.
 */
export const idleSeconds = (collects: boolean) => (collects ? 3 : 20);
const SAMPLE_EVERY_MS = 1_000;

function analyse(name: string, store: SeriesAnalysis['store'], points: Point[]): SeriesAnalysis {
  const of = (phase: Point['phase']) => points.filter((p) => p.phase === phase);
  const [before, load, after] = [of('before'), of('load'), of('after')];
  const sessions = Math.max(...points.map((p) => p.sessions));
  const lowest = (ps: Point[]) => Math.min(...ps.map((p) => p.heapMB));
  const heapBefore = lowest(before);
  const heapAfter = lowest(after);
  const rssBefore = before.at(-1)!.rssMB;
  const rssAfter = after.at(-1)!.rssMB;
  const per100k = (mb: number) => (sessions > 0 ? round((mb / sessions) * 100_000) : 0);
  return {
    name,
    store,
    points,
    sessions,
    heapBeforeMB: round(heapBefore),
    heapAfterMB: round(heapAfter),
    rssBeforeMB: round(rssBefore),
    rssAfterMB: round(rssAfter),
    heapPer100kMB: per100k(heapAfter - heapBefore),
    rssPer100kMB: per100k(rssAfter - rssBefore),
    heapPerMinuteMB: round(linearRegression(load.map((p) => [p.t / 60, p.heapMB])).slope, 2),
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
  const series = new Map<string, Point[]>();
  const started = Date.now();
  let counted = new Map<string, number>();
  let phase: Point['phase'] = 'warm-up';
  const sample = async () => {
    const t = (Date.now() - started) / 1000;
    for (const s of await opts.sampler.sample()) {
      const points = series.get(s.instance) ?? [];
      points.push({ t, phase, sessions: counted.get(s.instance) ?? 0, rssMB: s.rssMB, heapMB: s.heapMB });
      series.set(s.instance, points);
    }
  };
  /** Runs logins while sampling every second; the progress line shows `label`. */
  const loadWhileSampling = async (sessions: number, maxSeconds: number, label: string) => {
    const load = startLoginLoad(opts.url, opts.users, sessions, maxSeconds);
    // The samples count this load's sessions per replica (the warm-up's are left out).
    counted = phase === 'load' ? load.perInstance : new Map();
    const shown = opts.progress(load.counts);
    shown.phase(label);
    let finished = false;
    const result = load.done.finally(() => (finished = true));
    try {
      while (!finished) {
        await Promise.race([sleep(SAMPLE_EVERY_MS), result]);
        await sample();
      }
      return await result;
    } catch (err) {
      load.stop();
      throw err;
    } finally {
      shown.end();
    }
  };
  const idle = async (seconds: number) => {
    for (let i = 0; i < seconds; i++) {
      await sample();
      await sleep(SAMPLE_EVERY_MS);
    }
    await sample();
  };

  await sample();
  const warm = warmUp(opts.maxSeconds, opts.sessions);
  await loadWhileSampling(warm.sessions, warm.seconds, 'warm-up');
  phase = 'before';
  await idle(idleSeconds(opts.sampler.collects));

  phase = 'load';
  const { sessions, failures, seconds } = await loadWhileSampling(opts.sessions, opts.maxSeconds, 'measured');
  phase = 'after';
  await idle(idleSeconds(opts.sampler.collects));
  return {
    sessions,
    seconds,
    failures,
    // Through a balancer a replica may have gone unsampled while idle: without both settled readings it has no figures.
    series: [...series]
      .filter(([, points]) => points.some((p) => p.phase === 'before') && points.some((p) => p.phase === 'after'))
      .map(([instance, points], i) => analyse(opts.nameOf(instance, i), opts.store, points)),
  };
}
