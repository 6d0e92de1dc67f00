/** What a scenario gets and what it returns: figures, tables and charts that the report renders as they are. */
import type { Target } from '../target.js';
import type { Progress, Counts } from '../progress.js';

export interface ScenarioOptions {
  /** Virtual users of the mixed-traffic scenarios. */
  users: number;
  /** Seconds of load in `sharing` and around the events of `rolling-restart` and `crash`. */
  duration: number;
  /** Sessions the memory scenario creates per store. */
  sessions: number;
  /** Upper bound in seconds on creating them, per store. */
  memorySeconds: number;
  /** Length of the soak. */
  minutes: number;
  /** PASSWORD_SCRYPT_COST of the replicas the memory, login-storm and soak scenarios start; undefined: the app's. */
  scryptCost?: number;
  /** With --url: one replica's metrics port, which the memory scenario samples (metrics are not behind the balancer). */
  metricsUrl?: string;
}

export interface ScenarioContext {
  target: Target;
  options: ScenarioOptions;
  /** Prefix of this run's user names. */
  prefix: string;
  progress(name: string, counts: () => Counts): Progress;
  log(line: string): void;
}

export interface Figure {
  label: string;
  value: number | string;
  unit?: string;
  /** What good looks like, e.g. "0" or "100 %". */
  goal?: string;
  /** Whether the goal was met; undefined for figures without a goal. */
  ok?: boolean;
}

export interface Table {
  title: string;
  columns: string[];
  rows: Array<Array<string | number>>;
  /** Index of a column holding a share (0-1), drawn as a bar. */
  barColumn?: number;
}

export interface Series {
  name: string;
  points: Array<[number, number]>;
  /** Drawn as bars (counts per second) instead of a line. */
  bars?: boolean;
  /** Bars carry their value as text (for rare, important counts such as failures). */
  labelled?: boolean;
  color?: string;
}

export interface Chart {
  title: string;
  x: string;
  y: string;
  series: Series[];
  /** Vertical lines at events (a replica restarted, killed, back). */
  markers?: Array<{ x: number; label: string }>;
}

export type Status = 'passed' | 'failed' | 'measured' | 'skipped';

export interface ScenarioResult {
  name: string;
  title: string;
  /** What the scenario proves, in one or two sentences. */
  proves: string;
  status: Status;
  /** One line for the terminal and the top of the report. */
  headline: string;
  figures: Figure[];
  tables: Table[];
  charts: Chart[];
  notes: string[];
  seconds: number;
}

export interface Scenario {
  name: string;
  title: string;
  proves: string;
  /** Why it cannot run against this target (a --url deployment cannot be restarted from here), or undefined. */
  unsupported?(target: Target, options: ScenarioOptions): string | undefined;
  run(ctx: ScenarioContext): Promise<Omit<ScenarioResult, 'name' | 'title' | 'proves' | 'seconds'>>;
}
