/** The result of one `npm run loadtest`: what ran, where, on what machine, and each scenario's result. */
import { cpus, loadavg, totalmem } from 'node:os';
import type { ScenarioOptions, ScenarioResult } from '../scenarios/types.js';
import { fmt } from './page.js';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGB: number;
  node: string;
  platform: string;
  /** 1-minute load average when the run started and ended: other work on the machine skews the timings. */
  loadBefore: number;
  loadAfter?: number;
}

export interface Report {
  startedAt: string;
  finishedAt?: string;
  command: string;
  target: string;
  options: ScenarioOptions & { replicas?: number };
  machine: Machine;
  scenarios: ScenarioResult[];
}

/** The 1-minute load average, two decimals. */
export const loadAverage = () => Number(loadavg()[0]!.toFixed(2));

/** How this run was started, e.g. `npm run bench -- --rounds 1`. */
export const commandLine = (script: string) =>
  [`npm run ${script}`, ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ');

export function machine(): Machine {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGB: Math.round(totalmem() / 1024 ** 3),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadBefore: loadAverage(),
  };
}

export function formatValue(value: number | string, unit?: string): string {
  const text = typeof value === 'number' ? fmt(value) : value;
  return unit ? `${text} ${unit}` : text;
}
