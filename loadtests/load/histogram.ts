/**
 * Latency percentiles for every load of the project (the load test, the memory scenario, the bench, pgbench's log):
 * Node's HDR histogram (perf_hooks.createHistogram), so every percentile in a report is computed the same way.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { round } from '../stats.js';

/** Latency percentiles and maximum, in milliseconds. */
export type Latency = { p50: number; p90: number; p99: number; max: number };

/** Recorded in microseconds: the histogram holds integers, and a sub-millisecond answer must not read as 0. */
const MICROS_PER_MS = 1000;

export class LatencyHistogram {
  private readonly h: RecordableHistogram = createHistogram();

  record(ms: number): void {
    this.h.record(Math.max(1, Math.round(ms * MICROS_PER_MS)));
  }

  get count(): number {
    return this.h.count;
  }

  /** The p-th percentile (0-100) in milliseconds; 0 when nothing was recorded. */
  percentile(p: number): number {
    return this.count === 0 ? 0 : round(this.h.percentile(p) / MICROS_PER_MS, 2);
  }

  summary(): Latency {
    return {
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      max: this.count === 0 ? 0 : round(this.h.max / MICROS_PER_MS, 2),
    };
  }
}
