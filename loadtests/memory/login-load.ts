/**
 * Creates sessions as fast as the target allows: logins without a cookie, each of which makes a new session
 * (the app regenerates on login). One user per connection, so no user has two logins in flight (the login throttle
 * counts attempts in flight). Counts the sessions each replica created, from X-Instance.
 */
import autocannon from 'autocannon';
import { PASSWORD, type VirtualUser } from '../users.js';
import { fixKeepAlive } from '../load/keep-alive-fix.js';
import { header } from '../load/traffic.js';

export interface LoginLoad {
  /** Sessions created so far, per instance. */
  perInstance: Map<string, number>;
  counts(): { requests: number; failures: number };
  /** Resolves when `sessions` logins were answered, or at `maxSeconds`, or after stop(). */
  done: Promise<{ sessions: number; failures: Record<string, number>; seconds: number }>;
  stop(): void;
}

export function startLoginLoad(url: string, users: VirtualUser[], sessions: number, maxSeconds: number): LoginLoad {
  const perInstance = new Map<string, number>();
  const failures: Record<string, number> = {};
  let created = 0;
  let failed = 0;
  const fail = (kind: string) => {
    failed++;
    failures[kind] = (failures[kind] ?? 0) + 1;
  };
  let assigned = 0;
  const started = Date.now();
  let instance!: autocannon.Instance;
  let cap: NodeJS.Timeout | undefined;
  const done = new Promise<{ sessions: number; failures: Record<string, number>; seconds: number }>((resolve, reject) => {
    // The callback form returns the instance (stop()); the promise form does not.
    instance = autocannon(
      {
        url,
        connections: users.length,
        amount: sessions,
        timeout: 30,
        setupClient(client) {
          const user = users[assigned++ % users.length]!;
          fixKeepAlive(client, { lost: (_req, kind) => fail(kind), replayed: () => {} });
          (client as unknown as { setRequests(r: autocannon.Request[]): void }).setRequests([
            {
              method: 'POST',
              path: '/api/login',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ username: user.username, password: PASSWORD }),
              onResponse(status, _body, _ctx, headers) {
                if (status !== 200) return fail(`HTTP ${status}`);
                created++;
                const id = String(header(headers, 'x-instance') ?? 'unknown');
                perInstance.set(id, (perInstance.get(id) ?? 0) + 1);
              },
            },
          ]);
        },
      },
      (err) => {
        clearTimeout(cap);
        if (err) reject(err);
        else resolve({ sessions: created, failures, seconds: (Date.now() - started) / 1000 });
      },
    );
  });
  cap = setTimeout(() => instance.stop(), maxSeconds * 1000);
  return { perInstance, counts: () => ({ requests: created + failed, failures: failed }), done, stop: () => instance.stop() };
}
