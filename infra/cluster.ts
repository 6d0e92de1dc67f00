/**
 * The local cluster: N app replicas on loopback ports behind a real nginx, supervised.
 * Programmatic API used by `npm start`, the tests, the load tests and the bench. Postgres and migrations are the
 * caller's. A replica that exits unexpectedly is started again (its `restarts` counts it).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.js';
import { startReplica, stopWithin, waitForReady, type ReplicaProcess } from './replica.js';
import { startNginx, type NginxHandle } from './nginx.js';

export interface ClusterOptions {
  /** DATABASE_URL of every replica (a replica that needs none, such as the bench's trivial server, goes without). */
  databaseUrl?: string;
  replicas?: number;
  /** What node runs (startReplica's args); default app/server.ts through tsx. */
  args?: string[];
  host?: string;
  /** nginx's port (default 8080). */
  port?: number;
  /** Extra environment for every replica (SESSION_SECRET, SESSION_STORE, ...). */
  env?: NodeJS.ProcessEnv;
  /** More environment for the replica at `index` only (the memory scenario compares settings side by side). */
  replicaEnv?: (index: number) => NodeJS.ProcessEnv;
  /** What `env` adds to: default the caller's own environment; a tool passes {} so the user's shell cannot change its replicas. */
  baseEnv?: NodeJS.ProcessEnv;
  /** replica-N.log files and nginx's folder go here. */
  logDir: string;
  /** Written on every change: pids, ports, URL. */
  stateFile?: string;
  log?: (line: string) => void;
}

export interface ReplicaInfo {
  index: number;
  port: number;
  /** Where this replica serves GET /metrics (not through nginx). */
  metricsPort: number;
  pid: number;
  url: string;
  metricsUrl: string;
  logFile: string;
  restarts: number;
}

export interface Cluster {
  url: string;
  nginx: NginxHandle;
  replicas(): ReplicaInfo[];
  /** Takes the replica out of nginx, stops it gracefully, starts a new process and puts it back once ready. */
  restartReplica(index: number): Promise<void>;
  /** restartReplica for each replica in turn: the others keep serving. */
  rollingRestart(): Promise<void>;
  /** Sends a signal without warning nginx (a crash); the supervisor starts a new process. */
  killReplica(index: number, signal?: NodeJS.Signals): Promise<void>;
  /** Takes all but the first `count` replicas out of nginx (and puts them back when `count` grows). */
  serveWith(count: number): Promise<void>;
  /** Resolves when the replica at index serves /readyz again (after a crash). */
  waitForReplica(index: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

interface Slot {
  index: number;
  port: number;
  metricsPort: number;
  logFile: string;
  process: ReplicaProcess;
  /** Out of nginx's upstream list (restarting). */
  down: boolean;
  /** Exits while set are expected: no supervisor restart. */
  planned: boolean;
  restarts: number;
  ready: Promise<void>;
}

/**
 * glibc's malloc settings of every replica, as the Dockerfile's ENV: a fixed mmap threshold, so scrypt's 16 MB buffer
 * per password hash goes back to the system when freed instead of staying in malloc's heap (docs/capacity.md).
 */
export const REPLICA_MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: '131072' };

const SUPERVISOR_BACKOFF_MS = [200, 500, 1_000, 2_000, 5_000];
const STOP_TIMEOUT_MS = 20_000;

export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const { replicas = 3, host = '127.0.0.1', logDir, log = () => {} } = opts;
  mkdirSync(logDir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...(opts.baseEnv ?? process.env),
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    // nginx stops sending before a planned stop, so a short drain is enough locally.
    SHUTDOWN_DRAIN_MS: '500',
    ...REPLICA_MALLOC_ENV,
    ...opts.env,
    ...(opts.databaseUrl && { DATABASE_URL: opts.databaseUrl }),
    HOST: '127.0.0.1',
  };
  let stopping = false;
  // Assigned once, below; writeState() reads it while the replicas start, before nginx.
  let nginx: NginxHandle | undefined;

  const spawnInto = (slot: Omit<Slot, 'process' | 'ready'> & Partial<Slot>): Slot => {
    const child = startReplica({
      port: slot.port,
      metricsPort: slot.metricsPort,
      env: { ...env, ...opts.replicaEnv?.(slot.index) },
      args: opts.args,
      logFile: slot.logFile,
      detached: true,
    });
    const full = slot as Slot;
    full.process = child;
    full.ready = waitForReady(child);
    full.ready.catch(() => {}); // observed by whoever awaits it; supervision handles the exit
    void child.exited.then((code) => onExit(full, child, code));
    writeState();
    return full;
  };

  const onExit = async (slot: Slot, child: ReplicaProcess, code: number | string) => {
    if (stopping || slot.planned || slot.process !== child) return;
    const delay = SUPERVISOR_BACKOFF_MS[Math.min(slot.restarts, SUPERVISOR_BACKOFF_MS.length - 1)]!;
    log(`replica ${slot.index + 1} (pid ${child.pid}) exited unexpectedly (${code}); restarting in ${delay} ms`);
    await sleep(delay);
    if (stopping || slot.process !== child) return;
    slot.restarts++;
    spawnInto(slot);
    slot.ready.then(
      () => log(`replica ${slot.index + 1} is back (pid ${slot.process.pid})`),
      (err: Error) => log(`replica ${slot.index + 1} failed to start: ${err.message}`),
    );
  };

  const slots: Slot[] = [];
  for (let index = 0; index < replicas; index++) {
    const [port, metricsPort] = [await freePort(), await freePort()];
    const logFile = join(logDir, `replica-${index + 1}.log`);
    slots.push(spawnInto({ index, port, metricsPort, logFile, down: false, planned: false, restarts: 0 }));
  }
  try {
    await Promise.all(slots.map((s) => s.ready));
  } catch (err) {
    stopping = true;
    await Promise.all(slots.map((s) => s.process.stop('SIGKILL')));
    throw new Error(`${(err as Error).message}; see ${logDir}`, { cause: err });
  }

  const upstreams = () => slots.map((s) => ({ address: `127.0.0.1:${s.port}`, down: s.down }));
  // eslint-disable-next-line prefer-const -- see the declaration above
  nginx = await startNginx({
    host,
    port: opts.port ?? 8080,
    upstreams: upstreams(),
    runDir: join(logDir, 'nginx'),
    log,
  }).catch(async (err: Error) => {
    stopping = true;
    await Promise.all(slots.map((s) => s.process.stop('SIGKILL')));
    throw err;
  });

  function info(s: Slot): ReplicaInfo {
    const { port, metricsPort, logFile, restarts } = s;
    return {
      index: s.index,
      port,
      metricsPort,
      pid: s.process.pid,
      url: s.process.url,
      metricsUrl: s.process.metricsUrl!,
      logFile,
      restarts,
    };
  }

  function writeState() {
    if (!opts.stateFile) return;
    const state = {
      pid: process.pid,
      url: nginx?.url,
      nginx: nginx && { pid: nginx.pid, runDir: nginx.runDir },
      replicas: slots.map(info),
      logDir,
      updatedAt: new Date().toISOString(),
    };
    writeFileSync(opts.stateFile, `${JSON.stringify(state, null, 2)}\n`);
  }
  writeState();
  const balancer = nginx;

  const slotAt = (index: number) => {
    const slot = slots[index];
    if (!slot) throw new RangeError(`no replica ${index}; the cluster has ${slots.length}`);
    return slot;
  };

  async function restartReplica(index: number) {
    const slot = slotAt(index);
    slot.down = true;
    await balancer.reload(upstreams());
    slot.planned = true;
    try {
      await stopWithin(slot.process, STOP_TIMEOUT_MS);
      spawnInto(slot);
      await slot.ready;
    } finally {
      slot.planned = false;
    }
    slot.down = false;
    await balancer.reload(upstreams());
    log(`replica ${index + 1} restarted (pid ${slot.process.pid})`);
  }

  return {
    url: balancer.url,
    nginx: balancer,
    replicas: () => slots.map(info),
    restartReplica,
    async rollingRestart() {
      for (const slot of slots) await restartReplica(slot.index);
    },
    async killReplica(index, signal = 'SIGKILL') {
      const slot = slotAt(index);
      const before = slot.process;
      await before.stop(signal);
      // Wait until the supervisor has launched the replacement, so waitForReplica sees the new process.
      while (slot.process === before && !stopping) await sleep(20);
    },
    async serveWith(count) {
      if (count < 1 || count > slots.length) throw new RangeError(`cannot serve with ${count} of ${slots.length} replicas`);
      for (const slot of slots) slot.down = slot.index >= count;
      await balancer.reload(upstreams());
    },
    async waitForReplica(index, timeoutMs = 30_000) {
      const slot = slotAt(index);
      const timer = new AbortController();
      try {
        await Promise.race([
          slot.ready,
          sleep(timeoutMs, undefined, { signal: timer.signal }).then(() => {
            throw new Error(`replica ${index + 1} not ready after ${timeoutMs} ms`);
          }),
        ]);
      } finally {
        timer.abort();
      }
    },
    async stop() {
      if (stopping) return;
      stopping = true;
      await balancer.stop();
      await Promise.all(slots.map((s) => stopWithin(s.process, STOP_TIMEOUT_MS)));
      writeState();
    },
  };
}
