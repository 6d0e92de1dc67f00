/** Sessions outlive processes and are shared between replicas: real app processes, one real Postgres. */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { HttpClient, PASSWORD, uniqueName } from './helpers/http-client.js';
import { migratedDatabase } from './helpers/database.js';
import { replicaEnv, startReadyReplica } from './helpers/replicas.js';

let env: NodeJS.ProcessEnv;
before(async () => {
  env = replicaEnv(await migratedDatabase());
});

describe('Sessions across processes', () => {
  it('When the app process restarts, then the same cookie is still logged in, with its cart', async (t) => {
    const first = await startReadyReplica(t, env);
    const client = new HttpClient(first.url);
    const username = uniqueName();
    assert.equal((await client.post('/api/register', { username, password: PASSWORD })).status, 201);
    assert.equal((await client.post('/api/cart', { item: 'kept' })).status, 200);
    const before = await client.get('/api/me');
    assert.equal(await first.stop('SIGTERM'), 0, 'graceful stop exits 0');

    const second = await startReadyReplica(t, env, first.port);
    const after = await client.get('/api/me');
    assert.equal(after.status, 200);
    assert.deepEqual(after.body.user, { username });
    assert.notEqual(after.body.instance, before.body.instance, 'a new process answered');
    assert.deepEqual((await client.get('/api/cart')).body, { cart: ['kept'] });
    assert.equal(second.port, first.port);
  });

  it('When a session is made on one replica, then another replica accepts it and sees its writes', async (t) => {
    const [a, b] = await Promise.all([startReadyReplica(t, env), startReadyReplica(t, env)]);
    const onA = new HttpClient(a!.url);
    assert.equal((await onA.post('/api/register', { username: uniqueName(), password: PASSWORD })).status, 201);
    assert.equal((await onA.post('/api/cart', { item: 'from A' })).status, 200);
    const onB = onA.sharingSessionWith(b!.url);
    const me = await onB.get('/api/me');
    assert.equal(me.status, 200);
    assert.equal(me.headers.get('x-instance'), me.body.instance);
    assert.notEqual(me.body.instance, (await onA.get('/api/me')).body.instance);
    assert.deepEqual((await onB.post('/api/cart', { item: 'from B' })).body, { cart: ['from A', 'from B'] });
    assert.deepEqual((await onA.get('/api/cart')).body, { cart: ['from A', 'from B'] });
  });

  it('When the user logs out on one replica, then the old cookie gets 401 on every replica', async (t) => {
    const replicas = await Promise.all([0, 1, 2].map(() => startReadyReplica(t, env)));
    const client = new HttpClient(replicas[0]!.url);
    assert.equal((await client.post('/api/register', { username: uniqueName(), password: PASSWORD })).status, 201);
    const copies = replicas.map((r) => client.sharingSessionWith(r.url));
    for (const copy of copies) assert.equal((await copy.get('/api/me')).status, 200);
    assert.equal((await copies[1]!.post('/api/logout')).status, 204);
    for (const copy of copies) {
      const res = await copy.get('/api/me');
      assert.equal(res.status, 401);
      assert.ok(res.headers.get('x-instance'));
    }
  });
});
