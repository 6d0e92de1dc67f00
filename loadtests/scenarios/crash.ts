/** A crash under load: one replica gets SIGKILL; what fails, and how long until it serves again. */
import { failureFigures, failureTables, instanceTable, loadFigures, timelineCharts } from './load-report.js';
import { loadAroundEvent } from './load-around.js';
import { needsLocalCluster } from './needs-local.js';
import type { Scenario } from './types.js';

const BACK_TIMEOUT_MS = 60_000;

export const crash: Scenario = {
  name: 'crash',
  title: 'A replica crashes under load',
  proves:
    'When a replica dies without warning (SIGKILL), its users are not logged out: other replicas serve their sessions ' +
    'at once. Only requests in flight on the dead process can fail (nginx retries the reads elsewhere, but never a write ' +
    'that may have been applied); the figure says how many and which.',
  unsupported: needsLocalCluster('kill a replica'),
  async run(ctx) {
    const cluster = ctx.target.local!.cluster();
    const victim = Math.min(1, cluster.replicas().length - 1);
    let readyAfter = Number.NaN;
    const around = { name: 'crash', userPrefix: 'c', extraSeconds: BACK_TIMEOUT_MS / 1000 };
    const { result, lostAtEnd, markers } = await loadAroundEvent(ctx, around, async ({ load, shown, markers }) => {
      shown.phase(`replica ${victim + 1} killed`);
      const killedAt = load.recorder.elapsed();
      markers.push({ x: killedAt, label: 'SIGKILL' });
      await cluster.killReplica(victim, 'SIGKILL');
      await cluster.waitForReplica(victim, BACK_TIMEOUT_MS);
      readyAfter = load.recorder.elapsed() - killedAt;
      markers.push({ x: killedAt + readyAfter, label: 'ready' });
      shown.note(`replica ${victim + 1} ready again ${readyAfter.toFixed(1)} s after SIGKILL`);
      shown.phase('replica back');
    });
    const { failed, lost, replayed } = failureFigures(result, lostAtEnd);
    // The goal for failures is "only what was in flight on the dead process": reported, not judged.
    const failedFigure = { ...failed, goal: 'only requests in flight on the killed replica', ok: undefined };
    return {
      status: lost.ok && Number.isFinite(readyAfter) ? 'measured' : 'failed',
      headline:
        `replica ${victim + 1} killed under ${result.requestsPerSecond} req/s: ${result.failures} failed requests ` +
        `(${result.failedRequests.map((f) => `${f.count} × ${f.method} ${f.path} ${f.kind}`).join(', ') || 'none'}), ` +
        `${lost.value} sessions lost, ready again after ${readyAfter.toFixed(1)} s`,
      figures: [
        failedFigure,
        lost,
        replayed,
        { label: 'time until the replica serves again', value: Number(readyAfter.toFixed(1)), unit: 's' },
        ...loadFigures(result),
      ],
      tables: [...failureTables(result), instanceTable(result)],
      charts: timelineCharts(result, markers),
      notes: [
        `"Serves again": from SIGKILL until the supervisor's new process answers /readyz (restart back-off 200 ms, then Node and the pool start); nginx sends it traffic again within its fail_timeout (2 s). The new process appears in the share table as one more instance.`,
      ],
    };
  },
};
