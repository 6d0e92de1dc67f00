/**
 * N replicas of one entry (app/server.ts, the bench replica or the hello server) behind a real nginx rendered from
 * the top-level nginx.conf (infra/nginx.ts). Unlike infra/cluster.ts there is no supervision: a replica that dies
 * during a run is a failed run. `serveWith(n)` marks all but the first n replicas down (the scaling curve).
 */
import { join } from 'node:path';
import { startNginx, type NginxHandle } from '../../infra/nginx.js';
import { freePort } from '../../infra/ports.js';
import { startReplica, stopWithin, waitForReady, type ReplicaProcess } from '../../infra/replica.js';

export interface FleetOptions {
  name: string;
  replicas: number;
  /** What node runs (startReplica's args); default app/server.ts through tsx. */
  args?: string[];
  env: NodeJS.ProcessEnv;
  logDir: string;
  log: (line: string) => void;
}

export interface Fleet {
  url: string;
  nginx: NginxHandle;
  replicas: ReplicaProcess[];
  /** Replicas nginx sends to now. */
  serving: number;
  serveWith(count: number): Promise<void>;
  stop(): Promise<void>;
}

const STOP_TIMEOUT_MS = 10_000;

export async function startFleet({ name, replicas: count, args, env, logDir, log }: FleetOptions): Promise<Fleet> {
  const replicas: ReplicaProcess[] = [];
  let nginx: NginxHandle | undefined;
  try {
    for (let i = 1; i <= count; i++) {
      replicas.push(startReplica({ port: await freePort(), env, args, logFile: join(logDir, `${name}-${i}.log`) }));
    }
    await Promise.all(replicas.map((r) => waitForReady(r, 60_000)));
    const upstreams = (serving: number) => replicas.map((r, i) => ({ address: `127.0.0.1:${r.port}`, down: i >= serving }));
    nginx = await startNginx({ port: await freePort(), upstreams: upstreams(count), log });
    const balancer = nginx;
    const fleet: Fleet = {
      url: balancer.url,
      nginx: balancer,
      replicas,
      serving: count,
      async serveWith(serving) {
        if (serving < 1 || serving > count) throw new RangeError(`${name}: cannot serve with ${serving} of ${count} replicas`);
        if (serving === fleet.serving) return;
        await balancer.reload(upstreams(serving));
        fleet.serving = serving;
      },
      async stop() {
        await balancer.stop();
        await Promise.all(replicas.map((r) => stopWithin(r, STOP_TIMEOUT_MS)));
      },
    };
    return fleet;
  } catch (err) {
    await nginx?.stop();
    await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
    throw new Error(`${name}: ${(err as Error).message} (logs in ${logDir})`, { cause: err });
  }
}
