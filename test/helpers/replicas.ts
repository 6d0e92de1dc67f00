/** Real app processes (app/server.ts) for tests that need restarts or several replicas; stopped in t.after. */
import type { TestContext } from 'node:test';
import { freePort } from '../../infra/ports.js';
import { startReplica, waitForReady, type ReplicaProcess } from '../../infra/replica.js';
import { toolReplicaEnv } from '../../infra/replica-env.js';
import { TEST_SECRET } from './app-instance.js';

/** A replica process's environment, signed with the tests' secret so that in-process apps and processes share cookies. */
export function replicaEnv(databaseUrl: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return toolReplicaEnv(databaseUrl, { SESSION_SECRET: TEST_SECRET, ...extra });
}

export async function startReadyReplica(t: TestContext, env: NodeJS.ProcessEnv, port?: number): Promise<ReplicaProcess> {
  const replica = startReplica({ port: port ?? (await freePort()), metricsPort: await freePort(), env });
  t.after(() => replica.stop('SIGKILL'));
  await waitForReady(replica);
  return replica;
}
