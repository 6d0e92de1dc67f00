/**
 * Runs the virtual users' traffic with autocannon (https://github.com/mcollina/autocannon): one keep-alive
 * connection per user, each request checked (./traffic.ts). Runs until stop() or maxSeconds, whichever is first.
 */
import autocannon from 'autocannon';
import type { VirtualUser } from '../users.js';
import { fixKeepAlive } from './keep-alive-fix.js';
import { Recorder, type RecorderSummary } from './recorder.js';
import { userTraffic } from './traffic.js';
import { round } from '../stats.js';

export interface LoadResult extends RecorderSummary {
  seconds: number;
  requestsPerSecond: number;
}

export interface Load {
  recorder: Recorder;
  /** Ends the load (at autocannon's next one-second tick) and resolves with the result. */
  stop(): Promise<LoadResult>;
  /** Resolves when the load ends by itself (maxSeconds). */
  done: Promise<LoadResult>;
}

export interface LoadOptions {
  url: string;
  users: VirtualUser[];
  maxSeconds: number;
}

/** Per-request timeout in seconds (autocannon counts a timeout as an error). */
const TIMEOUT_SECONDS = 10;

export function startLoad({ url, users, maxSeconds }: LoadOptions): Load {
  if (users.length === 0) throw new Error('startLoad: no users');
  const recorder = new Recorder();
  let assigned = 0;
  const summarise = (result: autocannon.Result): LoadResult => ({
    ...recorder.summary(),
    seconds: result.duration,
    requestsPerSecond: round(recorder.totals.requests / Math.max(result.duration, 0.001), 0),
  });
  let instance!: autocannon.Instance;
  const done = new Promise<LoadResult>((resolve, reject) => {
    // The callback form returns the instance (events, stop()); the promise form does not.
    instance = autocannon(
      {
        url,
        connections: users.length,
        duration: maxSeconds,
        timeout: TIMEOUT_SECONDS,
        // autocannon builds one client per connection, in order: each gets the next user and that user's cycle.
        setupClient(client) {
          const user = users[assigned++ % users.length]!;
          const { requests, lost } = userTraffic(user, recorder);
          fixKeepAlive(client, { lost: (_req, kind) => lost(kind), replayed: () => recorder.replayed() });
          (client as unknown as { setRequests(r: autocannon.Request[]): void }).setRequests(requests);
        },
      },
      (err, result) => (err ? reject(err) : resolve(summarise(result))),
    );
  });
  instance.on('response', (_client: unknown, _status: number, _bytes: number, latencyMs: number) => recorder.response(latencyMs));
  return {
    recorder,
    done,
    stop() {
      instance.stop();
      return done;
    },
  };
}
