/**
 * A replica whose build needs a newer schema than the database has (a rollout that overtook its migration) waits for
 * the migration: probes answer, readiness and requests are 503 with the reason, and it serves once the migration ran.
 * The time-out is in test/startup.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { databaseOneMigrationBehind } from './helpers/database.js';
import { replicaEnv } from './helpers/replicas.js';
import { HttpClient, PASSWORD, uniqueName } from './helpers/http-client.js';
import { freePort } from '../infra/ports.js';
import { startReplica, waitForReady } from '../infra/replica.js';
import { migrate } from '../infra/migrate.js';
import { neededMigration } from '../app/schema-version.js';

async function untilListening(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (
      await fetch(`${url}/healthz`).then(
        (res) => res.ok,
        () => false,
      )
    )
      return;
    await sleep(100);
  }
  assert.fail('the replica never answered /healthz');
}

test('When the database is one migration behind the build, the replica answers 503 naming both versions until the migration runs, then serves', async (t) => {
  const databaseUrl = await databaseOneMigrationBehind();
  const logFile = join(mkdtempSync(join(tmpdir(), 'schema-')), 'replica.log');
  const replica = startReplica({ port: await freePort(), env: replicaEnv(databaseUrl, { LOG_LEVEL: 'info' }), logFile });
  t.after(() => replica.stop('SIGKILL'));
  await untilListening(replica.url);
  const client = new HttpClient(replica.url);

  const ready = await fetch(`${replica.url}/readyz`);
  assert.equal(ready.status, 503);
  const needed = neededMigration();
  const { status, reason } = (await ready.json()) as { status: string; reason: string };
  assert.equal(status, 'schema behind');
  assert.match(reason, new RegExp(`^database schema is at \\d{14}_[\\w-]+, this build needs ${needed}: waiting for the migration$`));
  const register = await client.post('/api/register', { username: uniqueName('early'), password: PASSWORD });
  assert.equal(register.status, 503, 'a request is refused, not a 500 on a missing table');
  assert.ok(register.headers.get('retry-after'));

  await migrate({ DATABASE_URL: databaseUrl });
  await waitForReady(replica, 10_000);
  assert.equal((await client.post('/api/register', { username: uniqueName('late'), password: PASSWORD })).status, 201);

  const log = readFileSync(logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { level: number; msg: string });
  const waiting = log.filter((l) => l.msg.includes('waiting for the migration'));
  assert.equal(waiting.length, 1, 'one line while waiting, not one per poll');
  assert.equal(waiting[0]!.level, 40);
  assert.match(
    waiting[0]!.msg,
    new RegExp(`this build needs ${needed}: waiting for the migration \\(at most 60 s, SCHEMA_WAIT_SECONDS\\)$`),
  );
});
