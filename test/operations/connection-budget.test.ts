/** Startup warns once when EXPECTED_REPLICAS × PG_POOL_MAX may exceed what the real PostgreSQL accepts. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { connectionBudgetWarning } from '../../app/connection-budget.js';
import { migratedDatabase } from '../helpers/database.js';
import { replicaEnv } from '../helpers/replicas.js';
import { freePort } from '../../infra/ports.js';
import { startReplica, waitForReady } from '../../infra/replica.js';

let databaseUrl: string;
/** What the test server accepts for non-superusers, read the way an operator would. */
let available: number;
before(async () => {
  databaseUrl = await migratedDatabase();
  const client = new pg.Client(databaseUrl);
  await client.connect();
  const show = async (name: string) => Number((await client.query(`SHOW ${name}`)).rows[0][name]);
  available = (await show('max_connections')) - (await show('superuser_reserved_connections')) - (await show('reserved_connections'));
  await client.end();
});

test('When replicas × pool fit in max_connections, there is no warning; one connection more, and it names both settings and the limit', async (t) => {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  t.after(() => pool.end());
  assert.equal(await connectionBudgetWarning(pool, available, 1), undefined);
  const warning = await connectionBudgetWarning(pool, available + 1, 1);
  assert.match(
    warning ?? '',
    new RegExp(
      `^EXPECTED_REPLICAS 1 × PG_POOL_MAX ${available + 1} = ${available + 1} connections may exceed the ${available} PostgreSQL accepts \\(max_connections \\d+ less \\d+ reserved\\)`,
    ),
  );
  assert.match((await connectionBudgetWarning(pool, Math.ceil(available / 2), 3)) ?? '', /^EXPECTED_REPLICAS 3 × /);
});

async function startupLog(t: import('node:test').TestContext, extra: NodeJS.ProcessEnv): Promise<{ level: number; msg: string }[]> {
  const logFile = join(mkdtempSync(join(tmpdir(), 'budget-')), 'replica.log');
  const replica = startReplica({ port: await freePort(), env: replicaEnv(databaseUrl, extra), logFile });
  t.after(() => replica.stop('SIGKILL'));
  await waitForReady(replica);
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

test('When a replica starts with EXPECTED_REPLICAS × PG_POOL_MAX above max_connections, it logs one warning and serves anyway', async (t) => {
  const log = await startupLog(t, { EXPECTED_REPLICAS: '10', PG_POOL_MAX: String(Math.ceil(available / 10) + 1) });
  const warnings = log.filter((l) => l.msg?.includes('max_connections'));
  assert.equal(warnings.length, 1, JSON.stringify(log));
  assert.equal(warnings[0]!.level, 40);
});

test('When a replica starts with the defaults (3 × 10), it does not warn', async (t) => {
  const log = await startupLog(t, {});
  assert.deepEqual(
    log.filter((l) => l.msg?.includes('max_connections')),
    [],
  );
});
