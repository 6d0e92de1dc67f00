/**
 * Coalesced session reads (app/session-reads.ts) keep every guarantee of one read per request: each request gets its
 * own session or none, and a logout that has answered is final on every replica, also for reads that share a query
 * with other sessions' reads. Real PostgreSQL, real replica processes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { SessionData, Store } from 'express-session';
import pg from 'pg';
import { loadConfig } from '../../app/config.js';
import { createPool } from '../../app/db.js';
import { noStoreMetrics } from '../../app/metrics.js';
import { closeSessionStore, createSessionStore } from '../../app/session.js';
import { freePort } from '../../infra/ports.js';
import { startReplica, waitForReady, type ReplicaProcess } from '../../infra/replica.js';
import { HttpClient, PASSWORD, uniqueName } from '../helpers/http-client.js';
import { migratedDatabase } from '../helpers/database.js';
import { replicaEnv } from '../helpers/replicas.js';

let databaseUrl: string;
before(async () => {
  databaseUrl = await migratedDatabase();
});

const call = <T>(fn: (done: (err?: unknown, value?: T) => void) => void) =>
  new Promise<T | undefined>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));

describe('Coalesced reads in the store', () => {
  let pool: pg.Pool;
  let store: Store;
  let admin: pg.Client;
  const batches: number[] = [];
  before(async () => {
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: databaseUrl });
    pool = createPool(config.database, () => {});
    store = createSessionStore(config, pool, () => {}, { ...noStoreMetrics, readBatch: (size) => batches.push(size) });
    admin = new pg.Client({ connectionString: databaseUrl, application_name: 'test-admin' });
    await admin.connect();
  });
  after(async () => {
    await closeSessionStore(store);
    await pool.end();
    await admin.end();
  });

  const newSession = async (name: string) => {
    const sid = randomBytes(16).toString('hex');
    const data = {
      cookie: { originalMaxAge: 3_600_000, expires: new Date(Date.now() + 3_600_000).toISOString(), httpOnly: true, path: '/' },
      name,
    };
    await call((done) => store.set(sid, data as unknown as SessionData, done));
    return sid;
  };
  const get = (sid: string) => call<SessionData & { name: string }>((done) => store.get(sid, done as never));

  it('When reads start in one turn, then one query answers them all, each with its own session (or none for an ended or unknown one)', async () => {
    const sids = await Promise.all(['a', 'b', 'c', 'd'].map(newSession));
    const ended = await newSession('ended');
    await call((done) => store.destroy(ended, done));
    const unknown = randomBytes(16).toString('hex');

    batches.length = 0;
    const asked = [...sids, ended, unknown, sids[0]!];
    const answers = await Promise.all(asked.map(get));

    assert.deepEqual(batches, [asked.length], 'one query for the whole turn');
    assert.deepEqual(
      answers.map((s) => s?.name ?? null),
      ['a', 'b', 'c', 'd', null, null, 'a'],
    );
    assert.notEqual(answers[0], answers[6], 'two requests for one session never share an object');
  });

  it('When a request reads alone, then its query carries just its session', async () => {
    const sid = await newSession('alone');
    batches.length = 0;
    assert.equal((await get(sid))?.name, 'alone');
    assert.deepEqual(batches, [1]);
  });

  it('When a session was destroyed before a read started, then the read never sees it', async () => {
    const sid = await newSession('gone');
    await Promise.all([get(sid), get(sid)]); // a batch that saw it
    await call((done) => store.destroy(sid, done));
    assert.deepEqual(await Promise.all([get(sid), get(await newSession('other')).then((s) => s?.name)]), [null, 'other']);
  });

  it('When more reads start in one turn than a batch holds, then they go out as several bounded queries', async () => {
    const sid = await newSession('many');
    batches.length = 0;
    const answers = await Promise.all(Array.from({ length: 250 }, () => get(sid)));
    assert.ok(answers.every((s) => s?.name === 'many'));
    assert.deepEqual(batches, [100, 100, 50]);
  });
});

describe('Coalesced reads across replicas', () => {
  let replicas: ReplicaProcess[];
  before(async () => {
    const env = replicaEnv(databaseUrl, { PASSWORD_SCRYPT_COST: '1024' });
    replicas = await Promise.all([0, 1].map(async () => startReplica({ port: await freePort(), metricsPort: await freePort(), env })));
    await Promise.all(replicas.map((r) => waitForReady(r)));
  });
  after(async () => {
    await Promise.all((replicas ?? []).map((r) => r.stop('SIGKILL')));
  });

  const url = (r: ReplicaProcess) => `http://127.0.0.1:${r.port}`;
  const signedIn = async (base: string) => {
    const client = new HttpClient(base);
    assert.equal((await client.post('/api/register', { username: uniqueName('coalesce'), password: PASSWORD })).status, 201);
    return client;
  };
  /** B's coalesced-read histogram: queries sent and sessions they read. */
  const batchTotals = async (r: ReplicaProcess) => {
    const text = await (await fetch(`${r.metricsUrl}/metrics`)).text();
    const value = (name: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
      assert.ok(line, `${name} is exported`);
      return Number(line.split(' ').at(-1));
    };
    return { queries: value('session_store_read_batch_size_count'), sessions: value('session_store_read_batch_size_sum') };
  };

  it('When a user logs out on replica A, then every read of that cookie on B is 401, also in batches with other sessions under load', async () => {
    const [a, b] = replicas as [ReplicaProcess, ReplicaProcess];
    const others = await Promise.all(Array.from({ length: 20 }, () => signedIn(url(b))));
    const victim = await signedIn(url(b));
    assert.equal((await victim.get('/api/me')).status, 200);

    const cookie = victim.cookieHeader; // sent as is on every read below, whatever the answers set
    assert.equal((await victim.sharingSessionWith(url(a)).post('/api/logout')).status, 204);

    const before = await batchTotals(b);
    const rounds = 10;
    const reads: Promise<{ victim: boolean; status: number }>[] = [];
    for (let round = 0; round < rounds; round++) {
      // Every read of a round is sent at once, so B receives them in one poll and reads them in few queries.
      const wave = [
        ...others.map(async (c) => ({ victim: false, status: (await c.get('/api/me')).status })),
        ...Array.from({ length: 5 }, async () => ({
          victim: true,
          status: (await fetch(`${url(b)}/api/me`, { headers: { cookie } })).status,
        })),
      ];
      reads.push(...wave);
      await Promise.all(wave);
    }
    const answers = await Promise.all(reads);
    const after = await batchTotals(b);

    assert.deepEqual(new Set(answers.filter((r) => r.victim).map((r) => r.status)), new Set([401]), 'the ended session is never served');
    assert.deepEqual(new Set(answers.filter((r) => !r.victim).map((r) => r.status)), new Set([200]));
    const read = after.sessions - before.sessions;
    assert.equal(read, rounds * (others.length + 5), 'every request read the table');
    assert.ok(after.queries - before.queries < read, `reads were coalesced: ${read} sessions in ${after.queries - before.queries} queries`);
  });
});
