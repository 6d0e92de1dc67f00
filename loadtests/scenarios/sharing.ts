/** Sessions are shared: V users with mixed traffic, every answer checked, whichever replica gives it. */
import { createUsers } from '../users.js';
import { startLoad } from '../load/run-load.js';
import { failureFigures, failureTables, instanceTable, loadFigures, timelineCharts } from './load-report.js';
import { lostSessions } from './load-around.js';
import type { Scenario } from './types.js';

export const sharing: Scenario = {
  name: 'sharing',
  title: 'Sessions shared across replicas',
  proves:
    'Every replica serves every session: each user reads /api/me and its cart and writes to its cart, nginx spreads the ' +
    'requests over the replicas, and every answer must be 200 with the user’s own cart, including the write it made one request earlier on another replica.',
  async run({ target, options, prefix, progress }) {
    const users = await createUsers(target.url, options.users, `${prefix}s`);
    const load = startLoad({ url: target.url, users, maxSeconds: options.duration });
    const shown = progress('sharing', () => load.recorder.totals);
    const result = await load.done.finally(() => shown.end());
    const lostAtEnd = await lostSessions(target.url, users);

    const replicasSeen = Object.keys(result.instances).length;
    const expected = target.local?.replicas;
    const spread = expected === undefined ? replicasSeen > 1 : replicasSeen === expected;
    const failures = failureFigures(result, lostAtEnd);
    const ok = failures.ok && spread;
    const shares = Object.values(result.instances).map((n) => `${Math.round((100 * n) / Math.max(result.requests, 1))} %`);
    return {
      status: ok ? 'passed' : 'failed',
      headline:
        `${users.length} users, ${result.requestsPerSecond} req/s, p99 ${result.latencyMs.p99} ms, ${result.failures} failed requests, ` +
        `${replicasSeen} replicas answered (${shares.join(' / ')})`,
      figures: [
        ...loadFigures(result),
        failures.failed,
        failures.lost,
        failures.replayed,
        {
          label: 'replicas that answered',
          value: replicasSeen,
          goal: expected === undefined ? 'more than 1' : String(expected),
          ok: spread,
        },
      ],
      tables: [instanceTable(result), ...failureTables(result)],
      charts: timelineCharts(result),
      notes: [
        `Traffic per user, in a loop: GET /api/me, GET /api/cart, POST /api/cart (a new item), GET /api/cart; a user whose cart is full logs in again.`,
      ],
    };
  },
};
