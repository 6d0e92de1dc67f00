/** A replica refuses to start on bad settings, with one line naming the setting; no fallback to memory sessions. */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { databaseOneMigrationBehind, emptyDatabase, migratedDatabase } from './helpers/database.js';
import { migrationNames } from '../app/schema-version.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { replicaEnv } from './helpers/replicas.js';
import { generatedSecret } from '../infra/replica-env.js';
import { startReplica, waitForReady } from '../infra/replica.js';
import { freePort } from '../infra/ports.js';
import { HttpClient } from './helpers/http-client.js';

const server = fileURLToPath(new URL('../app/server.ts', import.meta.url));

function runServer(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', server], { env: { PORT: '0', HOST: '127.0.0.1', ...env } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr: stderr.trim() });
    });
  });
}

let databaseUrl: string;
before(async () => {
  databaseUrl = await migratedDatabase();
});

describe('Startup in production', () => {
  const cases: [string, NodeJS.ProcessEnv, RegExp][] = [
    [
      'the memory store is asked for',
      { SESSION_STORE: 'memory' },
      /^Invalid configuration: SESSION_STORE: memory is not allowed in production/,
    ],
    ['the session secret is missing', { SESSION_SECRET: '' }, /^Invalid configuration: SESSION_SECRET: is required in production$/],
    [
      'a session secret is short',
      { SESSION_SECRET: `${'a'.repeat(40)},short` },
      /^Invalid configuration: SESSION_SECRET: every secret must be at least 32 characters/,
    ],
    ['the port is not a number', { PORT: 'eighty' }, /^Invalid configuration: PORT: must be a whole number$/],
    ['the database TLS mode is unknown', { DATABASE_SSL: 'prefer' }, /^Invalid configuration: DATABASE_SSL: /],
  ];
  for (const [what, extra, message] of cases) {
    it(`When ${what}, then the process exits 1 with one line naming the setting`, async () => {
      const { code, stderr } = await runServer({ ...replicaEnv(databaseUrl), ...extra });
      assert.equal(code, 1);
      assert.match(stderr, message);
      assert.equal(stderr.split('\n').length, 1, stderr);
    });
  }

  it('When the database cannot be reached, then the process exits 1 instead of falling back to memory', async () => {
    const { code, stderr } = await runServer(
      replicaEnv(`postgres://app:${generatedSecret()}@127.0.0.1:1/app`, { PG_CONNECT_TIMEOUT_MS: '500' }),
    );
    assert.equal(code, 1);
    assert.match(stderr, /^Cannot use the database at startup: /);
  });

  it('When the migrations have not run within SCHEMA_WAIT_SECONDS, then the process exits 1 with one line saying to run them', async () => {
    const { code, stderr } = await runServer(replicaEnv(await emptyDatabase(), { SCHEMA_WAIT_SECONDS: '1' }));
    assert.equal(code, 1);
    assert.match(
      stderr,
      /^database schema is at no migration, this build needs \d{14}_[\w-]+: gave up after 1 s \(SCHEMA_WAIT_SECONDS\); run the migration once per deploy \(npm run migrate, /,
    );
    assert.equal(stderr.split('\n').length, 1, stderr);
  });

  it('When the database is one migration behind the build and it does not come in time, then the process exits 1 naming both versions', async () => {
    const { code, stderr } = await runServer(replicaEnv(await databaseOneMigrationBehind(), { SCHEMA_WAIT_SECONDS: '1' }));
    assert.equal(code, 1);
    const [previous, needed] = migrationNames().slice(-2);
    assert.ok(stderr.startsWith(`database schema is at ${previous}, this build needs ${needed}: gave up after 1 s`), stderr);
    assert.equal(stderr.split('\n').length, 1, stderr);
  });
});

describe('Startup outside production', () => {
  it('When SESSION_STORE=memory in development, then it starts and logs a warning that sessions will be lost', async (t) => {
    const logFile = join(mkdtempSync(join(tmpdir(), 'startup-')), 'replica.log');
    const replica = startReplica({
      port: await freePort(),
      env: replicaEnv(databaseUrl, { NODE_ENV: 'development', SESSION_STORE: 'memory' }),
      logFile,
    });
    t.after(() => replica.stop('SIGKILL'));
    await waitForReady(replica);
    assert.equal((await new HttpClient(replica.url).get('/healthz')).status, 200);
    const warning = readFileSync(logFile, 'utf8')
      .split('\n')
      .find((l) => l.includes('SESSION_STORE=memory'));
    assert.ok(warning, 'a warning is logged');
    assert.equal(JSON.parse(warning).level, 40);
    assert.match(warning, /lost on restart and not shared/);
  });
});
