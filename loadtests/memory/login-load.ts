/**
 * Creates sessions as fast as the target allows: logins without a cookie, each of which makes a new session
 * (the app regenerates on login). One user per connection, so no user has two logins in flight (the login throttle
 * counts attempts in flight). Counts the sessions each replica created, from X-Instance.
 */
import { PASSWORD, type VirtualUser } from '../users.js';
import { startEngine, type Script, type Step } from '../load/engine.js';

export interface LoginLoadResult {
  sessions: number;
  failures: Record<string, number>;
  /** Overload answers (503/429 with Retry-After) that were waited out and sent again, by status. */
  retriedAfter: Record<string, number>;
  seconds: number;
}

export interface LoginLoad {
  /** Sessions created so far, per instance. */
  perInstance: Map<string, number>;
  counts(): { requests: number; failures: number };
  /** Resolves when `sessions` logins were answered, or at `maxSeconds`, or after stop(). */
  done: Promise<LoginLoadResult>;
  stop(): void;
}

export function startLoginLoad(url: string, users: VirtualUser[], sessions: number, maxSeconds: number): LoginLoad {
  const perInstance = new Map<string, number>();
  const failures: Record<string, number> = {};
  let created = 0;
  const fail = (kind: string) => (failures[kind] = (failures[kind] ?? 0) + 1);
  const script = (user: VirtualUser): Script => {
    const login: Step = {
      method: 'POST',
      path: '/api/login',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: user.username, password: PASSWORD }),
    };
    return {
      next: () => login,
      lost: (_step, kind) => fail(kind),
      answered(_step, { status, headers }) {
        if (status !== 200) return fail(`HTTP ${status}`);
        created++;
        const id = String(headers['x-instance'] ?? 'unknown');
        perInstance.set(id, (perInstance.get(id) ?? 0) + 1);
      },
    };
  };
  // A login at the production scrypt cost waits behind the replica's other hashes: a generous timeout.
  const run = startEngine({ url, scripts: users.map(script), maxSeconds, maxAnswers: sessions, timeoutSeconds: 30 });
  const done = run.done.then((r) => ({ sessions: created, failures, retriedAfter: r.retriedAfter, seconds: r.seconds }));
  return { perInstance, counts: run.counts, done, stop: () => void run.stop() };
}
