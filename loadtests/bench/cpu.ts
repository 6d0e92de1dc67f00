/**
 * CPU seconds of process trees, from /proc/<pid>/stat (Linux): utime + stime of every live process under the given
 * roots, plus cutime + cstime (children that exited and were reaped, such as Postgres backends whose connection
 * closed), so nothing is counted twice and nothing that ran is lost.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { allPids, readStat, type ProcStat } from '../../infra/proc-stat.js';

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds of one process and its reaped children, without its live children (this process: the load generator and pgbench). */
export function processCpuSeconds(pid: number): number {
  return (readStat(pid)?.ticks ?? 0) / TICKS_PER_SECOND;
}

/** CPU seconds used so far by each named group of process trees, e.g. { replicas: [pid, pid], postgres: [pid] }. */
export function cpuSeconds<K extends string>(groups: Record<K, number[]>): Record<K, number> {
  const stats = new Map<number, ProcStat>();
  for (const pid of allPids() ?? []) {
    const stat = readStat(pid);
    if (stat) stats.set(pid, stat);
  }
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of stats) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const treeTicks = (root: number): number => {
    let ticks = 0;
    for (const stack = [root]; stack.length > 0;) {
      const pid = stack.pop()!;
      ticks += stats.get(pid)?.ticks ?? 0;
      stack.push(...(children.get(pid) ?? []));
    }
    return ticks;
  };
  const out = {} as Record<K, number>;
  for (const key of Object.keys(groups) as K[]) {
    out[key] = groups[key].reduce((sum, pid) => sum + treeTicks(pid), 0) / TICKS_PER_SECOND;
  }
  return out;
}

/** CPU seconds the whole machine has spent busy (all cores), from /proc/stat. */
export function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...: work done here (not idle, iowait, or steal by other VMs).
  const busy = fields.slice(0, 7).reduce((s, n, i) => (i === 3 || i === 4 ? s : s + n), 0);
  return busy / TICKS_PER_SECOND;
}
