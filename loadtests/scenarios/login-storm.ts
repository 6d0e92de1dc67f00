/**
 * A login storm: many users log in at the same moment, far more than the cores can hash, at the production scrypt
 * cost. Each replica hashes PASSWORD_HASH_CONCURRENCY at once and queues PASSWORD_HASH_QUEUE more; beyond that it
 * answers 503 with Retry-After, which the load engine waits out and sends again, as a well-behaved client does.
 */
import { createUsers, PASSWORD } from '../users.js';
import { startEngine, type Script } from '../load/engine.js';
import { productionCluster, scryptCostLabel } from './production-settings.js';
import type { Scenario } from './types.js';

const STORM_USERS = 240;
const MAX_SECONDS = 180;

export const loginStorm: Scenario = {
  name: 'login-storm',
  title: 'A login storm gets answers a client can act on',
  proves:
    `${STORM_USERS} users log in at the same moment, at the production scrypt cost. Every login succeeds, some after ` +
    'a 503 with Retry-After (the replica’s hashing queue was full) that the client waited out; no other 5xx, no ' +
    '“database unavailable” while the database is fine, no request without an answer.',
  async run(ctx) {
    const { target, options, prefix, progress } = ctx;
    const storm = target.local && (await productionCluster(target.local, ctx, 'login-storm', target.local.replicas));
    try {
      const url = storm?.url ?? target.url;
      const users = await createUsers(url, STORM_USERS, `${prefix}ls`);
      const finals = new Map<number, number>();
      let lost = 0;
      const scripts = users.map((user): Script => {
        let sent = false;
        return {
          next: () =>
            sent
              ? undefined
              : ((sent = true),
                {
                  method: 'POST',
                  path: '/api/login',
                  headers: { 'content-type': 'application/json' },
                  body: JSON.stringify({ username: user.username, password: PASSWORD }),
                }),
          answered: (_step, { status }) => void finals.set(status, (finals.get(status) ?? 0) + 1),
          lost: () => void lost++,
        };
      });
      const run = startEngine({ url, scripts, maxSeconds: MAX_SECONDS, timeoutSeconds: 60 });
      const shown = progress('login-storm', run.counts);
      const result = await run.done.finally(() => shown.end());

      const ok = finals.get(200) ?? 0;
      const retried = Object.values(result.retriedAfter).reduce((a, b) => a + b, 0);
      const otherErrors = [...finals].filter(([status]) => status >= 500).reduce((a, [, n]) => a + n, 0);
      const passed = ok === STORM_USERS && otherErrors === 0 && lost === 0;
      const latency = result.latency.summary();
      return {
        status: passed ? 'passed' : 'failed',
        headline: `${ok} of ${STORM_USERS} logins succeeded in ${result.seconds.toFixed(1)} s; ${retried} answers were 503 + Retry-After and sent again; ${otherErrors} other 5xx, ${lost} without an answer; p99 ${latency.p99} ms including the waits`,
        figures: [
          { label: 'logins that succeeded', value: ok, goal: String(STORM_USERS), ok: ok === STORM_USERS },
          { label: '503 + Retry-After, waited out and sent again', value: retried },
          { label: 'final answers 5xx', value: otherErrors, goal: '0', ok: otherErrors === 0 },
          { label: 'logins without an answer', value: lost, goal: '0', ok: lost === 0 },
          { label: 'latency p50, waits included', value: latency.p50, unit: 'ms' },
          { label: 'latency p99, waits included', value: latency.p99, unit: 'ms' },
        ],
        tables: [{ title: 'Final answers by status', columns: ['status', 'count'], rows: [...finals].sort(([a], [b]) => a - b) }],
        charts: [],
        notes: [
          `Replicas ran the compiled app with ${scryptCostLabel(options)} and the shipped PASSWORD_HASH_CONCURRENCY and PASSWORD_HASH_QUEUE. Each user sends one login without a cookie, all at once, on its own connection; a 503 or 429 with Retry-After is sent again after that many seconds (until the scenario’s time bound), as the app asks.`,
        ],
      };
    } finally {
      await storm?.stop();
    }
  },
};
