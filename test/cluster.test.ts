/** The local cluster: 3 replicas behind real nginx, one session served by all of them, kept across restarts. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpClient, PASSWORD, uniqueName } from './helpers/http-client.js';
import { startTestCluster } from './helpers/cluster.js';

let cluster: Awaited<ReturnType<typeof startTestCluster>>;
before(async () => {
  cluster = await startTestCluster({ replicas: 3, env: { LOG_LEVEL: 'warn' }, stateFile: true });
});
after(async () => {
  await cluster?.stop();
});

async function instancesSeen(client: HttpClient, requests = 12): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < requests; i++) {
    const res = await client.get('/api/me');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-instance'), res.body.instance);
    seen.add(res.body.instance);
  }
  return seen;
}

describe('Local cluster behind nginx', () => {
  it('When a user logs in through nginx, then all three replicas serve that one session', async () => {
    const client = new HttpClient(cluster.url);
    assert.equal((await client.post('/api/register', { username: uniqueName(), password: PASSWORD })).status, 201);
    assert.equal((await instancesSeen(client)).size, 3);
    assert.match(client.cookieHeader, /^sid=/);
  });

  it('When every replica is restarted one by one, then the user is still logged in, on three new processes', async () => {
    const client = new HttpClient(cluster.url);
    const username = uniqueName();
    assert.equal((await client.post('/api/register', { username, password: PASSWORD })).status, 201);
    assert.equal((await client.post('/api/cart', { item: 'survives' })).status, 200);
    const before = await instancesSeen(client);
    const pidsBefore = cluster.replicas().map((r) => r.pid);

    await cluster.rollingRestart();

    const pidsAfter = cluster.replicas().map((r) => r.pid);
    for (let i = 0; i < 3; i++) assert.notEqual(pidsAfter[i], pidsBefore[i]);
    const after = await instancesSeen(client);
    assert.equal(after.size, 3);
    for (const id of after) assert.ok(!before.has(id), `${id} is a new process`);
    assert.deepEqual((await client.get('/api/cart')).body, { cart: ['survives'] });
  });

  it('When the cluster runs, then its state file names the URL, pids and ports', () => {
    const state = JSON.parse(readFileSync(join(cluster.logDir, 'state.json'), 'utf8'));
    assert.equal(state.url, cluster.url);
    assert.deepEqual(
      state.replicas.map((r: { pid: number }) => r.pid),
      cluster.replicas().map((r) => r.pid),
    );
  });

  it('When a replica is killed, then the supervisor starts a new one and nginx keeps answering', async () => {
    const client = new HttpClient(cluster.url);
    assert.equal((await client.post('/api/register', { username: uniqueName(), password: PASSWORD })).status, 201);
    const pid = cluster.replicas()[1]!.pid;
    await cluster.killReplica(1, 'SIGKILL');
    for (let i = 0; i < 6; i++) assert.equal((await client.get('/api/me')).status, 200, 'GETs fail over to the others');
    await cluster.waitForReplica(1);
    assert.notEqual(cluster.replicas()[1]!.pid, pid);
    assert.equal(cluster.replicas()[1]!.restarts, 1);
  });
});
