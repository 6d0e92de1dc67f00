/** Pruning: expired sessions go in bounded batches, live ones stay, and one replica prunes per interval for the fleet. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { claimPruneRun, pruneExpiredSessions } from '../../app/session-pruner.js';
import { HttpClient, PASSWORD, uniqueName } from '../helpers/http-client.js';
import { migratedDatabase } from '../helpers/database.js';
import { replicaEnv } from '../helpers/replicas.js';
import { logLines, sample, scrape, startLoggedReplica } from './support.js';

async function insertSessions(pool: pg.Pool, prefix: string, count: number, expiresInSeconds: number): Promise<void> {
  await pool.query(
    `INSERT INTO session (sid, sess, expire)
     SELECT $1 || g, '{"cookie":{}}'::json, (now() AT TIME ZONE 'UTC') + $3 * interval '1 second' FROM generate_series(1, $2) g`,
    [prefix, count, expiresInSeconds],
  );
}

async function countSessions(pool: pg.Pool, prefix: string): Promise<number> {
  return (await pool.query('SELECT count(*)::int AS n FROM session WHERE starts_with(sid, $1)', [prefix])).rows[0].n;
}

describe('Pruning expired sessions', () => {
  it('When expired rows exceed the batch limit, then a run deletes whole batches up to it and the next run the rest', async (t) => {
    // A time zone far from UTC: `expire` holds UTC, and the prune must not read it as local time.
    const pool = new pg.Pool({ connectionString: await migratedDatabase(), options: '-c TimeZone=Asia/Tokyo' });
    t.after(() => pool.end());
    await insertSessions(pool, 'expired-', 250, -60);
    await insertSessions(pool, 'live-', 5, 30 * 60);

    assert.deepEqual(await pruneExpiredSessions(pool, { batchSize: 100, maxBatches: 2 }), { deleted: 200, batches: 2, complete: false });
    assert.equal(await countSessions(pool, 'expired-'), 50);
    assert.deepEqual(await pruneExpiredSessions(pool, { batchSize: 100, maxBatches: 2 }), { deleted: 50, batches: 1, complete: true });
    assert.equal(await countSessions(pool, 'expired-'), 0);
    assert.equal(await countSessions(pool, 'live-'), 5, 'sessions expiring in 30 minutes stay');
  });

  it('When many replicas claim a run at once, then exactly one wins, and nobody until the interval has passed', async (t) => {
    const pool = new pg.Pool({ connectionString: await migratedDatabase(), max: 10 });
    t.after(() => pool.end());
    const claims = await Promise.all(Array.from({ length: 10 }, () => claimPruneRun(pool, 60_000)));
    assert.equal(claims.filter(Boolean).length, 1);
    assert.equal(await claimPruneRun(pool, 60_000), false);
    await sleep(50);
    assert.equal(await claimPruneRun(pool, 20), true, 'due again once the interval has passed');
  });

  it(
    'When three replicas run with a 1 s interval, then expired rows go, live sessions stay, and runs are an interval apart',
    { timeout: 60_000 },
    async (t) => {
      const databaseUrl = await migratedDatabase();
      const logDir = mkdtempSync(join(tmpdir(), 'pruner-test-'));
      t.after(() => rmSync(logDir, { recursive: true, force: true }));
      const env = replicaEnv(databaseUrl, {
        LOG_LEVEL: 'info',
        SESSION_PRUNE_INTERVAL_SECONDS: '1',
        SESSION_PRUNE_BATCH_SIZE: '1000',
        PASSWORD_SCRYPT_COST: '1024',
      });
      const logFiles = [1, 2, 3].map((i) => join(logDir, `replica-${i}.log`));
      const replicas = await Promise.all(logFiles.map((file) => startLoggedReplica(t, env, file)));
      const pool = new pg.Pool({ connectionString: databaseUrl });
      t.after(() => pool.end());

      const client = new HttpClient(replicas[0]!.url);
      assert.equal((await client.post('/api/register', { username: uniqueName(), password: PASSWORD })).status, 201);
      await insertSessions(pool, 'expired-', 2_500, -60);
      await insertSessions(pool, 'live-', 10, 3_600);
      const deadline = Date.now() + 10_000;
      while ((await countSessions(pool, 'expired-')) > 0 && Date.now() < deadline) await sleep(100);
      assert.equal(await countSessions(pool, 'expired-'), 0, 'expired rows were pruned');
      await sleep(5_000); // several more intervals

      assert.equal(await countSessions(pool, 'live-'), 10);
      assert.equal((await client.get('/api/me')).status, 200, 'the logged-in session is untouched');

      const runs = logFiles
        .flatMap((file) => logLines(file).filter((l) => l.msg === 'pruned expired sessions'))
        .map((l) => ({ start: l.time - l.ms, deleted: l.deleted as number, batches: l.batches as number }))
        .sort((a, b) => a.start - b.start);
      assert.equal(
        runs.reduce((n, r) => n + r.deleted, 0),
        2_500,
        'each expired row was deleted once',
      );
      assert.ok(
        runs.some((r) => r.batches === 3),
        'the 2,500 rows went in batches of 1,000',
      );
      assert.ok(runs.length >= 3, `several intervals observed (${runs.length} runs)`);
      for (let i = 1; i < runs.length; i++) {
        // Run starts are taken in Node just before the claim, whose time Postgres sets: allow a few ms of latency.
        assert.ok(
          runs[i]!.start - runs[i - 1]!.start >= 1_000 - 50,
          `runs ${i - 1} and ${i} are ${runs[i]!.start - runs[i - 1]!.start} ms apart`,
        );
      }

      const scraped = await Promise.all(replicas.map((r) => scrape(r)));
      const pruned = scraped.map((m) => sample(m, 'session_prune_checks_total', { outcome: 'pruned' }));
      const notDue = scraped.map((m) => sample(m, 'session_prune_checks_total', { outcome: 'not_due' }));
      assert.equal(
        pruned.reduce((a, b) => a + b, 0),
        runs.length,
        'metrics and logs agree',
      );
      for (let i = 0; i < 3; i++) assert.ok(pruned[i]! + notDue[i]! > 0, `replica ${i + 1}'s timer fired`);
      assert.ok(notDue.reduce((a, b) => a + b, 0) >= runs.length, 'most firings found the run already done by another replica');
      assert.equal(
        scraped.reduce((n, m) => n + sample(m, 'session_pruned_total'), 0),
        2_500,
      );
      assert.equal(
        scraped.reduce((n, m) => n + sample(m, 'session_store_errors_total', { operation: 'prune' }), 0),
        0,
      );
    },
  );
});
