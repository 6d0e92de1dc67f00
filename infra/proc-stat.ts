/** Reads /proc/<pid>/stat (Linux): a process's parent and CPU ticks, and the children of a process. */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  ppid: number;
  /** utime + stime + cutime + cstime: the process and its reaped children, in clock ticks. */
  ticks: number;
}

/** Undefined when the process is gone (or /proc is unavailable). */
export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields from `state` (index 0): ppid 1, utime 11, stime 12, cutime 13, cstime 14.
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return { ppid: Number(fields[1]), ticks };
}

/** Every live process id; undefined where /proc is unavailable. */
export function allPids(): number[] | undefined {
  try {
    return readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .map(Number);
  } catch {
    return undefined;
  }
}

/** PIDs whose parent is `ppid` (the workers of an nginx master); undefined where /proc is unavailable. */
export function childPids(ppid: number): number[] | undefined {
  return allPids()?.filter((pid) => readStat(pid)?.ppid === ppid);
}
