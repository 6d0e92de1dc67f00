/**
 * `npm run loadtest`: runs the scenarios against a deployment (--url) or a local cluster started here, prints the
 * figures and writes results/loadtest-<timestamp>.json and .html. Exit code 1 when a scenario failed.
 */
import { join, resolve } from 'node:path';
import { parseCli, USAGE } from './cli.js';
import { localTarget, urlTarget, type Target } from './target.js';
import { runScenario, selectScenarios } from './scenarios/index.js';
import { startProgress, type Counts, type Progress } from './progress.js';
import { runPrefix } from './users.js';
import { commandLine, loadAverage, machine, type Report } from './report/report.js';
import { stamp, textSummary, writeReport } from './report/write.js';
import { stopOnSignals } from './signals.js';

let shown: Progress | undefined;
/** Lines from the cluster (a replica restarted, ...) go above the live progress line while one is shown. */
const say = (line: string) => (shown ? shown.note(line) : console.error(line));
const progress = (label: string, counts: () => Counts): Progress => {
  const p = startProgress(label, counts);
  shown = p;
  return {
    ...p,
    end() {
      p.end();
      shown = undefined;
    },
  };
};

let options;
let chosen;
try {
  options = parseCli(process.argv.slice(2));
  if (options.help) {
    console.log(USAGE);
    process.exit(0);
  }
  chosen = selectScenarios(options.scenarios);
} catch (err) {
  console.error(`loadtest: ${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
const name = `loadtest-${stamp()}`;
const outDir = resolve(options.out);

let target: Target | undefined;
// Replicas run in their own process groups: a Ctrl+C must stop them through the cluster API, not leave them behind.
stopOnSignals('loadtest', say, () => target?.stop() ?? Promise.resolve());

const report: Report = {
  startedAt: new Date().toISOString(),
  command: commandLine('loadtest'),
  target: '',
  options: {
    users: options.users,
    duration: options.duration,
    sessions: options.sessions,
    memorySeconds: options.memorySeconds,
    minutes: options.minutes,
    scryptCost: options.scryptCost,
    replicas: options.replicas,
  },
  machine: machine(),
  scenarios: [],
};

try {
  say(
    options.url
      ? `loadtest: target ${options.url}`
      : `loadtest: starting a local cluster (${options.replicas} replicas, nginx, PostgreSQL)`,
  );
  target = options.url
    ? await urlTarget(options.url)
    : await localTarget({ replicas: options.replicas, logDir: join(outDir, `${name}-logs`), log: say });
  report.target = target.description;
  const prefix = runPrefix();
  for (const scenario of chosen) {
    say(`loadtest: ${scenario.name}`);
    const result = await runScenario(scenario, {
      target,
      options,
      prefix,
      progress,
      log: say,
    });
    report.scenarios.push(result);
    say(`loadtest: ${result.status} ${scenario.name}: ${result.headline}`);
  }
} catch (err) {
  say(`loadtest: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await target?.stop().catch((err: Error) => say(`loadtest: stopping the target failed: ${err.message}`));
}

report.finishedAt = new Date().toISOString();
report.machine.loadAfter = loadAverage();
const files = writeReport(report, outDir, name);
console.log(`\n${textSummary(report)}\n\nReport: ${files.html}\nData:   ${files.json}`);
if (report.scenarios.some((s) => s.status === 'failed')) process.exitCode = 1;
