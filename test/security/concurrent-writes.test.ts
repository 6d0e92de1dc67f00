/**
 * Concurrent cart writes for one user over three real replica processes on one real PostgreSQL. The cart lives in
 * cart_items, one row per item, not in the session: express-session writes a session whole, so parallel adds that each
 * loaded the same session would overwrite each other's items (the last writer wins).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { freePort } from '../../infra/ports.js';
import { startReplica, waitForReady, type ReplicaProcess } from '../../infra/replica.js';
import { MAX_CART_ITEMS } from '../../app/carts.js';
import { HttpClient, PASSWORD, uniqueName } from '../helpers/http-client.js';
import { migratedDatabase } from '../helpers/database.js';
import { replicaEnv } from '../helpers/replicas.js';

let db: pg.Pool;
let replicas: ReplicaProcess[];

before(async () => {
  const databaseUrl = await migratedDatabase();
  db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const env = replicaEnv(databaseUrl, { PASSWORD_SCRYPT_COST: '1024' });
  replicas = await Promise.all([0, 1, 2].map(async () => startReplica({ port: await freePort(), env })));
  await Promise.all(replicas.map((r) => waitForReady(r)));
});
after(async () => {
  await Promise.all((replicas ?? []).map((r) => r.stop('SIGKILL')));
  await db?.end();
});

/** One user, and a client holding its session for each replica. */
async function userOnEveryReplica(): Promise<{ username: string; clients: HttpClient[] }> {
  const username = uniqueName('cart');
  const client = new HttpClient(replicas[0]!.url);
  assert.equal((await client.post('/api/register', { username, password: PASSWORD })).status, 201);
  return { username, clients: replicas.map((r) => client.sharingSessionWith(r.url)) };
}

/** The user's session row; xmin changes with every write to it. */
async function sessionRow(username: string): Promise<{ xmin: string; sess: unknown }> {
  const { rows } = await db.query(`SELECT xmin::text, sess FROM session WHERE sess->'user'->>'username' = $1`, [username]);
  assert.equal(rows.length, 1);
  return rows[0];
}

/** `count` POST /api/cart at once, spread over the replicas in turn. */
const addAtOnce = (clients: HttpClient[], items: string[]) =>
  Promise.all(items.map((item, i) => clients[i % clients.length]!.post('/api/cart', { item })));

describe('Concurrent cart writes across replicas', () => {
  it('When 30 items are added at once for one user over three replicas, then every item is in the cart exactly once and the session row is not written', async () => {
    const { username, clients } = await userOnEveryReplica();
    const before = await sessionRow(username);
    const items = Array.from({ length: 30 }, (_, i) => `item-${i}`);

    const replies = await addAtOnce(clients, items);
    for (const [i, reply] of replies.entries()) {
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.ok(reply.body.cart.includes(items[i]), `the answer to adding ${items[i]} shows it`);
    }
    assert.equal(new Set(replies.map((r) => r.headers.get('x-instance'))).size, 3, 'all three replicas took adds');

    const carts = await Promise.all(clients.map(async (c) => (await c.get('/api/cart')).body.cart as string[]));
    assert.deepEqual([...carts[0]!].sort(), [...items].sort(), 'each item exactly once');
    assert.deepEqual(carts[1], carts[0], 'the same cart, in the same order, on every replica');
    assert.deepEqual(carts[2], carts[0]);
    assert.deepEqual(await sessionRow(username), before, 'POST /api/cart never wrote the session row');
  });

  it(`When parallel adds race for the last places, then the cart stops at ${MAX_CART_ITEMS} items on every replica`, async () => {
    const { clients } = await userOnEveryReplica();
    const first = await addAtOnce(
      clients,
      Array.from({ length: MAX_CART_ITEMS - 5 }, (_, i) => `early-${i}`),
    );
    assert.ok(first.every((r) => r.status === 200));

    const race = await addAtOnce(
      clients,
      Array.from({ length: 20 }, (_, i) => `late-${i}`),
    );
    const accepted = race.filter((r) => r.status === 200);
    const refused = race.filter((r) => r.status === 400);
    assert.equal(accepted.length, 5, `statuses: ${race.map((r) => r.status).join(' ')}`);
    assert.equal(refused.length, 15);
    for (const r of refused) assert.deepEqual(r.body, { error: `cart is full (at most ${MAX_CART_ITEMS} items)` });
    for (const client of clients) assert.equal((await client.get('/api/cart')).body.cart.length, MAX_CART_ITEMS);
  });
});
