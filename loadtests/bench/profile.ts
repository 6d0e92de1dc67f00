/**
 * Where a replica's CPU goes: the V8 CPU profiles that `node --cpu-prof` writes at exit, summed over a fleet's
 * replicas, as self time per package (node_modules/<name>, app/<file>, node core, GC) and per function.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { round } from '../stats.js';

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Busy milliseconds sampled (idle excluded), over every profile of the fleet. */
  busyMs: number;
  byPackage: Array<{ name: string; share: number }>;
  topFunctions: Array<{ name: string; share: number }>;
}

function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return 'node core';
  const own = /\/((?:app|loadtests|infra)\/.+)$/.exec(url);
  return own ? own[1]! : '(other)';
}

const top = (totals: Map<string, number>, busy: number, count: number) =>
  [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => ({ name, share: round(us / busy, 3) }));

export async function summariseProfiles(dir: string): Promise<ProfileSummary | undefined> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.cpuprofile'));
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busy = 0;
  for (const file of files) {
    const profile = JSON.parse(await readFile(join(dir, file), 'utf8')) as CpuProfile;
    const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
    profile.samples.forEach((id, i) => {
      const frame = frames.get(id);
      const us = profile.timeDeltas[i] ?? 0;
      if (!frame || frame.functionName === '(idle)') return;
      busy += us;
      const pkg = packageOf(frame.url, frame.functionName);
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + us);
      const where = frame.url ? ` ${pkg}:${frame.lineNumber + 1}` : '';
      const name = `${frame.functionName || '(anonymous)'}${where}`;
      byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    });
  }
  if (busy === 0) return undefined;
  return { busyMs: Math.round(busy / 1000), byPackage: top(byPackage, busy, 14), topFunctions: top(byFunction, busy, 20) };
}
