/**
 * Rotating SESSION_SECRET with real replica processes on one database: before (OLD), during (NEW,OLD) and after
 * (NEW). Signatures are checked with our own HMAC, the way express-session (cookie-signature) makes them.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../../infra/ports.js';
import { startReplica, waitForReady, type ReplicaProcess } from '../../infra/replica.js';
import { HttpClient, PASSWORD, uniqueName } from '../helpers/http-client.js';
import { migratedDatabase } from '../helpers/database.js';
import { replicaEnv } from '../helpers/replicas.js';
import { sessionIdOf, signedSessionCookie } from '../helpers/cookies.js';
import { generatedSecret } from '../../infra/replica-env.js';

const OLD = generatedSecret();
const NEW = generatedSecret();

let oldOnly: ReplicaProcess; // SESSION_SECRET=OLD
let rotating: ReplicaProcess; // SESSION_SECRET=NEW,OLD
let newOnly: ReplicaProcess; // SESSION_SECRET=NEW

before(async () => {
  const databaseUrl = await migratedDatabase();
  const start = async (secret: string) =>
    startReplica({ port: await freePort(), env: replicaEnv(databaseUrl, { SESSION_SECRET: secret }) });
  [oldOnly, rotating, newOnly] = await Promise.all([start(OLD), start(`${NEW},${OLD}`), start(NEW)]);
  await Promise.all([oldOnly, rotating, newOnly].map((r) => waitForReady(r)));
});
after(async () => {
  await Promise.all([oldOnly, rotating, newOnly].map((r) => r?.stop('SIGKILL')));
});

async function registeredOn(replica: ReplicaProcess): Promise<HttpClient> {
  const client = new HttpClient(replica.url);
  assert.equal((await client.post('/api/register', { username: uniqueName('rot'), password: PASSWORD })).status, 201);
  return client;
}

describe('Session secret rotation', () => {
  it('When NEW is added in front of OLD, then cookies signed with OLD still work', async () => {
    const client = await registeredOn(oldOnly);
    const cookie = client.cookies.get('sid')!;
    assert.equal(cookie, signedSessionCookie(sessionIdOf(cookie), OLD), 'signed with the only secret, OLD');
    assert.equal((await client.sharingSessionWith(rotating.url).get('/api/me')).status, 200);
  });

  it('When NEW is in front, then new cookies are signed with NEW', async () => {
    const username = uniqueName('rot');
    const client = new HttpClient(rotating.url);
    assert.equal((await client.post('/api/register', { username, password: PASSWORD })).status, 201);
    assert.equal((await client.post('/api/login', { username, password: PASSWORD })).status, 200);
    const cookie = client.cookies.get('sid')!;
    assert.equal(cookie, signedSessionCookie(sessionIdOf(cookie), NEW));
    assert.equal((await client.sharingSessionWith(newOnly.url).get('/api/me')).status, 200, 'readable once OLD is gone');
    assert.equal((await client.sharingSessionWith(oldOnly.url).get('/api/me')).status, 401, 'a replica without NEW cannot read it');
  });

  it('When an OLD-signed session changes on a rotated replica, then its cookie is re-issued signed with NEW, same id', async () => {
    const client = await registeredOn(oldOnly);
    const oldCookie = client.cookies.get('sid')!;
    const rotated = client.sharingSessionWith(rotating.url);
    assert.equal((await rotated.post('/api/cart', { item: 'kept' })).status, 200);
    const newCookie = rotated.cookies.get('sid')!;
    assert.equal(sessionIdOf(newCookie), sessionIdOf(oldCookie));
    assert.equal(newCookie, signedSessionCookie(sessionIdOf(oldCookie), NEW));
    assert.deepEqual((await rotated.sharingSessionWith(newOnly.url).get('/api/cart')).body, { cart: ['kept'] });
  });

  it('When OLD is removed, then cookies still signed with OLD get 401', async () => {
    const client = await registeredOn(oldOnly);
    assert.equal((await client.sharingSessionWith(rotating.url).get('/api/me')).status, 200);
    const res = await client.sharingSessionWith(newOnly.url).get('/api/me');
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, { error: 'not logged in' });
  });
});
