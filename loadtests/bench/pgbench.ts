/**
 * The database ceiling: pgbench's select-only script (`-S`: one primary-key SELECT per transaction) on the bench's
 * PostgreSQL, with the extended query protocol node-postgres uses for parameterised queries (`-M extended`).
 * Latency percentiles come from a 10 % sample of pgbench's per-transaction log.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LatencyHistogram } from '../load/histogram.js';
import { round } from '../stats.js';
import type { TrafficResult } from './traffic.js';

function connection(url: string): { args: string[]; env: NodeJS.ProcessEnv } {
  const u = new URL(url);
  return {
    args: ['-h', u.hostname, '-p', u.port || '5432', '-U', decodeURIComponent(u.username), u.pathname.slice(1)],
    env: { ...process.env, PGPASSWORD: decodeURIComponent(u.password), PGAPPNAME: 'pgbench' },
  };
}

function run(binary: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`pgbench ${args[0]}: ${stderr.trim().split('\n').at(-1) ?? err.message}`));
      else resolve(`${stdout}${stderr}`);
    });
  });
}

/** Scale 1: 100,000 accounts, all in shared buffers, as the session table is. */
export async function initPgbench(binary: string, url: string): Promise<void> {
  const { args, env } = connection(url);
  await run(binary, ['-i', '-s', '1', '-q', ...args], env, 120_000);
}

/** The run in the traffic's terms: a transaction is a request and a read. */
export async function runPgbench(binary: string, url: string, opts: { clients: number; seconds: number }): Promise<TrafficResult> {
  const { args, env } = connection(url);
  const logDir = await mkdtemp(join(tmpdir(), 'pgbench-'));
  try {
    const load = ['-S', '-n', '-M', 'extended', '-c', String(opts.clients), '-j', '2', '-T', String(opts.seconds)];
    const log = ['-l', '--sampling-rate', '0.1', '--log-prefix', join(logDir, 'log')];
    const output = await run(binary, [...load, ...log, ...args], env, (opts.seconds + 60) * 1000);
    const tps = Number(/tps = ([\d.]+)/.exec(output)?.[1]);
    const transactions = Number(/number of transactions actually processed: (\d+)/.exec(output)?.[1]);
    if (!Number.isFinite(tps) || !Number.isFinite(transactions)) throw new Error(`pgbench: unexpected output: ${output.slice(-300)}`);
    // Each line: client_id transaction_no time(µs) script_no epoch µs.
    const latency = new LatencyHistogram();
    for (const file of await readdir(logDir)) {
      for (const line of (await readFile(join(logDir, file), 'utf8')).split('\n')) {
        const micros = Number(line.split(' ')[2]);
        if (line && Number.isFinite(micros)) latency.record(micros / 1000);
      }
    }
    const latencyMs = latency.summary();
    return {
      seconds: opts.seconds,
      requests: transactions,
      requestsPerSecond: round(tps, 0),
      latencyMs,
      readP99: latencyMs.p99,
      writeP99: 0,
      errors: 0,
      reads: transactions,
      writes: 0,
      writesSkipped: 0,
      statuses: {},
    };
  } finally {
    await rm(logDir, { recursive: true, force: true });
  }
}
