/**
 * Metrics are private: a replica serves GET /metrics only on its metrics port (METRICS_PORT), never on the app port
 * that nginx makes public. Real replicas behind real nginx (the local cluster).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cluster } from '../../infra/cluster.js';
import { freePort } from '../../infra/ports.js';
import { startReplica } from '../../infra/replica.js';
import { startTestCluster } from '../helpers/cluster.js';
import { migratedDatabase } from '../helpers/database.js';
import { HttpClient, PASSWORD, uniqueName } from '../helpers/http-client.js';
import { replicaEnv } from '../helpers/replicas.js';

let cluster: Cluster;
before(async () => {
  cluster = await startTestCluster({ replicas: 2, env: { PASSWORD_SCRYPT_COST: '1024' } });
});
after(() => cluster?.stop());

describe('Private metrics', () => {
  it('When /metrics is asked through nginx, then it is a JSON 404', async () => {
    const res = await new HttpClient(cluster.url).get('/metrics');
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, { error: 'not found' });
  });

  it("When /metrics is asked on a replica's app port, then it is a JSON 404 like any unknown path", async () => {
    for (const replica of cluster.replicas()) {
      const res = await new HttpClient(replica.url).get('/metrics');
      assert.equal(res.status, 404);
      assert.deepEqual(res.body, { error: 'not found' });
      assert.ok(res.headers.get('x-instance'), 'answered by the app itself');
    }
  });

  it("When each replica's metrics port is scraped, then it answers Prometheus text of that replica, counting traffic that came through nginx", async () => {
    const client = new HttpClient(cluster.url);
    assert.equal((await client.post('/api/register', { username: uniqueName('metrics'), password: PASSWORD })).status, 201);
    for (let i = 0; i < 4; i++) assert.equal((await client.get('/api/me')).status, 200);
    let served = 0;
    for (const replica of cluster.replicas()) {
      assert.notEqual(replica.metricsPort, replica.port);
      const res = await fetch(`${replica.metricsUrl}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      assert.match(text, /^# TYPE nodejs_heap_size_used_bytes gauge$/m);
      const instances = new Set([...text.matchAll(/instance="([^"]+)"/g)].map((m) => m[1]));
      assert.equal(instances.size, 1, 'one replica per metrics port');
      served += [...text.matchAll(/^http_request_duration_seconds_count\{[^}]*route="\/api\/me"[^}]*\} (\d+)$/gm)].reduce(
        (n, m) => n + Number(m[1]),
        0,
      );
    }
    assert.equal(served, 4, 'the requests through nginx are counted on the replicas that served them');
  });
});

describe('The metrics port at startup', () => {
  it('When the metrics port is taken, then the replica exits 1 with one line naming METRICS_PORT', async (t) => {
    const taken = createServer();
    const metricsPort = await freePort();
    await new Promise<void>((resolve) => taken.listen(metricsPort, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => taken.close(resolve)));
    const dir = mkdtempSync(join(tmpdir(), 'metrics-port-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const logFile = join(dir, 'replica.log');
    const replica = startReplica({ port: await freePort(), metricsPort, env: replicaEnv(await migratedDatabase()), logFile });
    assert.equal(await replica.exited, 1);
    const lines = readFileSync(logFile, 'utf8').trim().split('\n');
    assert.match(lines.at(-1)!, new RegExp(`^Cannot serve metrics on 127\\.0\\.0\\.1:${metricsPort} \\(METRICS_PORT\\): .*EADDRINUSE`));
  });
});
