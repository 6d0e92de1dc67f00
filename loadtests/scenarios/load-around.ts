/** The mixed traffic around an event (a rolling restart, a crash): calm load, the event, the rest of --duration. */
import { setTimeout as sleep } from 'node:timers/promises';
import { createUsers, sessionStatuses, type VirtualUser } from '../users.js';
import { startLoad, type Load, type LoadResult } from '../load/run-load.js';
import type { Progress } from '../progress.js';
import type { Marker } from './load-report.js';
import type { ScenarioContext } from './types.js';

/** Load before the event and after it, so the timeline shows the steady state around it. */
const CALM_SECONDS = 3;

/** Users whose final /api/me is not 200. */
export async function lostSessions(url: string, users: VirtualUser[]): Promise<number> {
  return (await sessionStatuses(url, users)).filter((s) => s !== 200).length;
}

export interface EventUnderLoad {
  load: Load;
  shown: Progress;
  /** Pushed by the event: drawn on the timeline charts. */
  markers: Marker[];
}

export interface LoadAround {
  users: VirtualUser[];
  result: LoadResult;
  lostAtEnd: number;
  markers: Marker[];
}

/**
 * Starts the users' traffic (for at most --duration + `extraSeconds`), lets it run calm, runs `event`, then the rest of
 * --duration, at least the calm period, so the timeline also shows the state after; stops the load and counts the
 * sessions lost at the end.
 */
export async function loadAroundEvent(
  { target, options, prefix, progress }: ScenarioContext,
  run: { name: string; userPrefix: string; extraSeconds: number },
  event: (under: EventUnderLoad) => Promise<void>,
): Promise<LoadAround> {
  const users = await createUsers(target.url, options.users, `${prefix}${run.userPrefix}`);
  const load = startLoad({ url: target.url, users, maxSeconds: options.duration + run.extraSeconds });
  const shown = progress(run.name, () => load.recorder.totals);
  const markers: Marker[] = [];
  try {
    await sleep(CALM_SECONDS * 1000);
    await event({ load, shown, markers });
    await sleep(Math.max(CALM_SECONDS, options.duration - load.recorder.elapsed()) * 1000);
  } finally {
    shown.end();
  }
  const result = await load.stop();
  return { users, result, lostAtEnd: await lostSessions(target.url, users), markers };
}
