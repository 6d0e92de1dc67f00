/** Starts one app replica (app/server.ts) as a child process and tells when it is ready or gone. */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const serverEntry = fileURLToPath(new URL('../app/server.ts', import.meta.url));

export interface ReplicaProcess {
  port: number;
  url: string;
  /** The metrics port's base URL (GET /metrics there), when started with a metricsPort. */
  metricsUrl?: string;
  pid: number;
  child: ChildProcess;
  /** Resolves with the exit code (or the signal name) once the process is gone. */
  exited: Promise<number | string>;
  /** Sends the signal (default SIGTERM) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface StartReplicaOptions {
  port: number;
  /**
   * Its metrics port (METRICS_PORT). Absent: none (METRICS_PORT=0), so replicas started side by side never compete
   * for the default 9464.
   */
  metricsPort?: number;
  env: NodeJS.ProcessEnv;
  /** Appends stdout and stderr there; default: inherited by nothing (ignored). */
  logFile?: string;
  /** Own process group, so a Ctrl+C in the terminal reaches the supervisor only, which then stops replicas in order. */
  detached?: boolean;
  /** What node runs, instead of app/server.ts through tsx (e.g. the compiled dist/app/server.js). */
  args?: string[];
}

export function startReplica({
  port,
  metricsPort,
  env,
  logFile,
  detached = false,
  args = ['--import', 'tsx', serverEntry],
}: StartReplicaOptions): ReplicaProcess {
  const fd = logFile ? openSync(logFile, 'a') : undefined;
  const child = spawn(process.execPath, args, {
    env: { ...env, PORT: String(port), METRICS_PORT: String(metricsPort ?? 0), HOST: env.HOST ?? '127.0.0.1' },
    stdio: ['ignore', fd ?? 'ignore', fd ?? 'ignore'],
    detached,
  });
  if (fd !== undefined) closeSync(fd);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    metricsUrl: metricsPort ? `http://127.0.0.1:${metricsPort}` : undefined,
    pid: child.pid!,
    child,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** SIGTERM, then SIGKILL if the replica has not finished its graceful shutdown in time. */
export async function stopWithin(replica: ReplicaProcess, ms: number): Promise<void> {
  const timer = setTimeout(() => replica.child.kill('SIGKILL'), ms);
  await replica.stop('SIGTERM');
  clearTimeout(timer);
}

/** Polls /readyz until 200; throws if the process exits first or the time runs out. */
export async function waitForReady(replica: ReplicaProcess, timeoutMs = 30_000): Promise<void> {
  let gone: number | string | undefined;
  void replica.exited.then((code) => (gone = code));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone !== undefined) throw new Error(`replica on port ${replica.port} exited (${gone}) before it was ready`);
    try {
      const res = await fetch(`${replica.url}/readyz`, { signal: AbortSignal.timeout(1_000) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`replica on port ${replica.port} not ready after ${timeoutMs} ms`);
}
