/** Everything a load run observed: per-second timeline, failures by kind and by request, replicas that answered. */
import { LatencyHistogram, type Latency } from './histogram.js';

export interface Second {
  /** Seconds since the load started (bucket start). */
  t: number;
  requests: number;
  failures: number;
  p50: number;
  p99: number;
}

export interface FailureCount {
  method: string;
  path: string;
  kind: string;
  count: number;
}

export interface RecorderSummary {
  requests: number;
  failures: number;
  failuresByKind: Record<string, number>;
  failedRequests: FailureCount[];
  /** Distinct users that got a 401 on a request that carried their session. */
  sessionsLost: number;
  /** Responses per X-Instance value. */
  instances: Record<string, number>;
  timeline: Second[];
  /** Over every response of the run. */
  latencyMs: Latency;
  /** First failures, for the report (time, request, kind, detail). */
  examples: Array<{ t: number; request: string; kind: string; detail: string }>;
}

const MAX_EXAMPLES = 20;

export class Recorder {
  readonly startedAt = Date.now();
  private requests = 0;
  private readonly latency = new LatencyHistogram();
  private readonly kinds = new Map<string, number>();
  private readonly byRequest = new Map<string, FailureCount>();
  private readonly lostUsers = new Set<string>();
  private readonly instances = new Map<string, number>();
  private readonly seconds: Array<{ latency: LatencyHistogram; failures: number }> = [];
  private readonly examples: RecorderSummary['examples'] = [];

  private bucket() {
    const i = Math.max(0, Math.floor((Date.now() - this.startedAt) / 1000));
    while (this.seconds.length <= i) this.seconds.push({ latency: new LatencyHistogram(), failures: 0 });
    return this.seconds[i]!;
  }

  /** Every complete answer, checked or not, and the replica that gave it (X-Instance). */
  response(latencyMs: number, instance: string | undefined): void {
    this.requests++;
    this.latency.record(latencyMs);
    this.bucket().latency.record(latencyMs);
    if (instance) this.instances.set(instance, (this.instances.get(instance) ?? 0) + 1);
  }

  /** A request that failed: a wrong status, a wrong body, or no answer at all. */
  failure(method: string, path: string, kind: string, detail = ''): void {
    this.bucket().failures++;
    this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + 1);
    const key = `${method} ${path} ${kind}`;
    const entry = this.byRequest.get(key) ?? { method, path, kind, count: 0 };
    entry.count++;
    this.byRequest.set(key, entry);
    if (this.examples.length < MAX_EXAMPLES) {
      this.examples.push({ t: (Date.now() - this.startedAt) / 1000, request: `${method} ${path}`, kind, detail: detail.slice(0, 200) });
    }
  }

  sessionLost(username: string): void {
    this.lostUsers.add(username);
  }

  /** Seconds since the start, for event markers on the timeline. */
  elapsed(): number {
    return (Date.now() - this.startedAt) / 1000;
  }

  get totals() {
    return { requests: this.requests, failures: [...this.kinds.values()].reduce((a, b) => a + b, 0) };
  }

  summary(): RecorderSummary {
    // The last second is cut short by the end of the run: its counts are scaled to a rate, or dropped if tiny.
    const lastLength = this.elapsed() - (this.seconds.length - 1);
    const seconds = lastLength < 0.5 && this.seconds.at(-1)?.failures === 0 ? this.seconds.slice(0, -1) : this.seconds;
    const timeline = seconds.map((s, t) => {
      const scale = t === this.seconds.length - 1 ? 1 / Math.max(lastLength, 0.5) : 1;
      return {
        t,
        requests: Math.round(s.latency.count * scale),
        failures: s.failures,
        p50: s.latency.percentile(50),
        p99: s.latency.percentile(99),
      };
    });
    return {
      ...this.totals,
      failuresByKind: Object.fromEntries(this.kinds),
      failedRequests: [...this.byRequest.values()].sort((a, b) => b.count - a.count),
      sessionsLost: this.lostUsers.size,
      instances: Object.fromEntries([...this.instances].sort(([a], [b]) => a.localeCompare(b))),
      timeline,
      latencyMs: this.latency.summary(),
      examples: this.examples,
    };
  }
}
