/** Sessions survive a rolling restart: the sharing traffic while every replica is restarted one by one. */
import { failureFigures, failureTables, instanceTable, loadFigures, timelineCharts } from './load-report.js';
import { loadAroundEvent } from './load-around.js';
import { needsLocalCluster } from './needs-local.js';
import type { Scenario } from './types.js';

/** Upper bound on the whole restart, on top of --duration. */
const RESTART_BUDGET_SECONDS = 180;

export const rollingRestart: Scenario = {
  name: 'rolling-restart',
  title: 'Rolling restart under load',
  proves:
    'A deployment can replace every replica while users keep working: each replica is taken out of nginx, stopped ' +
    'gracefully and started again, one at a time, and no request fails and no user is logged out.',
  unsupported: needsLocalCluster('restart each replica'),
  async run(ctx) {
    const cluster = ctx.target.local!.cluster();
    const restartSeconds: number[] = [];
    const around = { name: 'rolling-restart', userPrefix: 'r', extraSeconds: RESTART_BUDGET_SECONDS };
    const { users, result, lostAtEnd, markers } = await loadAroundEvent(ctx, around, async ({ load, shown, markers }) => {
      for (const replica of cluster.replicas()) {
        const n = replica.index + 1;
        shown.phase(`restarting replica ${n}`);
        const from = load.recorder.elapsed();
        markers.push({ x: from, label: `r${n} out` });
        await cluster.restartReplica(replica.index);
        const to = load.recorder.elapsed();
        markers.push({ x: to, label: `r${n} back` });
        restartSeconds.push(to - from);
        shown.note(`replica ${n} restarted in ${(to - from).toFixed(1)} s`);
      }
      shown.phase('after the restarts');
    });
    const failures = failureFigures(result, lostAtEnd);
    const total = restartSeconds.reduce((a, b) => a + b, 0);
    return {
      status: failures.ok ? 'passed' : 'failed',
      headline:
        `${restartSeconds.length} replicas restarted in ${total.toFixed(1)} s under ${result.requestsPerSecond} req/s: ` +
        `${result.failures} failed requests, ${failures.lost.value} sessions lost, p99 ${result.latencyMs.p99} ms`,
      figures: [
        failures.failed,
        failures.lost,
        failures.replayed,
        { label: 'restart of all replicas', value: Number(total.toFixed(1)), unit: 's' },
        ...loadFigures(result),
      ],
      tables: [...failureTables(result), instanceTable(result)],
      charts: timelineCharts(result, markers),
      notes: [
        `${users.length} users with the sharing traffic. Each restart: the replica is marked down in nginx (reload), gets SIGTERM, drains and exits, a new process starts and is put back once /readyz answers.`,
        'Instances in the share table include the processes before and after the restarts (X-Instance is host name + pid).',
      ],
    };
  },
};
