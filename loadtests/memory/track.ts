/** Samples every replica's memory at a fixed interval while a load runs, as one series of points per replica. */
import { setTimeout as sleep } from 'node:timers/promises';
import { linearRegression } from '../stats.js';
import type { Sampler } from './sampler.js';

export type Phase = 'warm-up' | 'load' | 'after';

export interface Point {
  /** Seconds since the track started. */
  t: number;
  phase: Phase;
  /** Sessions this replica had created by then in the measured load (0 outside it, and in the soak). */
  sessions: number;
  rssMB: number;
  heapMB: number;
}

export class MemoryTrack {
  readonly series = new Map<string, Point[]>();
  phase: Phase = 'warm-up';
  /** Sessions created per replica (X-Instance) in the current phase, when the load counts them. */
  sessions: Map<string, number> = new Map();
  private readonly started = Date.now();

  constructor(
    private readonly sampler: Sampler,
    private readonly everyMs: number,
  ) {}

  async sample(): Promise<void> {
    const t = (Date.now() - this.started) / 1000;
    for (const s of await this.sampler.sample()) {
      const points = this.series.get(s.instance) ?? [];
      const sessions = this.phase === 'load' ? (this.sessions.get(s.instance) ?? 0) : 0;
      points.push({ t, phase: this.phase, sessions, rssMB: s.rssMB, heapMB: s.heapMB });
      this.series.set(s.instance, points);
    }
  }

  /** Samples until `work` settles (and once more at its end); resolves or rejects as it does. */
  async during<T>(work: Promise<T>): Promise<T> {
    let finished = false;
    const result = work.finally(() => (finished = true));
    result.catch(() => {}); // awaited below
    while (!finished) {
      await Promise.race([sleep(this.everyMs), result]);
      await this.sample();
    }
    return result;
  }

  async idle(seconds: number): Promise<void> {
    await this.during(sleep(seconds * 1000));
  }
}

/** The highest RSS among the points. */
export const peakRss = (points: Point[]): number => Math.max(...points.map((p) => p.rssMB));

/**
 * Slope of `y` over `x` through the last half of the points (by position): where a curve that levels off has
 * levelled off, and where a leak still climbs. 0 with fewer than four points.
 */
export function lastHalfSlope(points: Array<[number, number]>): number {
  if (points.length < 4) return 0;
  return linearRegression(points.slice(Math.floor(points.length / 2))).slope;
}
