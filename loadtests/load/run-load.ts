/**
 * Runs the virtual users' mixed traffic (./traffic.ts) on the load engine: one keep-alive connection per user, each
 * answer checked. Runs until stop() or maxSeconds, whichever is first.
 */
import type { VirtualUser } from '../users.js';
import { startEngine } from './engine.js';
import { Recorder, type RecorderSummary } from './recorder.js';
import { userTraffic } from './traffic.js';
import { round } from '../stats.js';

export interface LoadResult extends RecorderSummary {
  seconds: number;
  requestsPerSecond: number;
  /** Requests sent again after an idle keep-alive connection closed under them (see engine.ts). */
  replayed: number;
  /** Overload answers (503/429 with Retry-After) that were waited out and sent again, by status. */
  retriedAfter: Record<string, number>;
}

export interface Load {
  recorder: Recorder;
  /** Ends the load (each user finishes its request in flight) and resolves with the result. */
  stop(): Promise<LoadResult>;
  /** Resolves when the load ends by itself (maxSeconds). */
  done: Promise<LoadResult>;
}

export function startLoad({ url, users, maxSeconds }: { url: string; users: VirtualUser[]; maxSeconds: number }): Load {
  const recorder = new Recorder();
  const run = startEngine({ url, scripts: users.map((user) => userTraffic(user, recorder)), maxSeconds });
  const done = run.done.then((engine) => ({
    ...recorder.summary(),
    seconds: round(engine.seconds, 2),
    requestsPerSecond: round(recorder.totals.requests / Math.max(engine.seconds, 0.001), 0),
    replayed: engine.replayed,
    retriedAfter: engine.retriedAfter,
  }));
  return { recorder, done, stop: () => run.stop().then(() => done) };
}
