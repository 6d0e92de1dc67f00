/**
 * What the image runs, without the image: the project built from the Docker build context (.dockerignore) with
 * `npm run build`, then dist/ run with plain node (no tsx) against a real PostgreSQL, configured as compose and
 * Kubernetes configure it (PG* variables, NODE_ENV=production).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { builtinModules } from 'node:module';
import { cp, mkdtemp, readFile, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from '../../infra/ports.js';
import { startReplica, waitForReady } from '../../infra/replica.js';
import { emptyDatabase, migratedDatabase } from '../helpers/database.js';
import { TEST_SECRET } from '../helpers/app-instance.js';
import { runSessionsCli } from '../helpers/sessions-cli.js';
import { loadCompose, loadManifests, manifest, readText, root } from './files.js';

const run = promisify(execFile);
const BUILD_TIMEOUT_MS = 240_000;

const workDir = await mkdtemp(join(tmpdir(), 'dist-test-'));
after(() => rm(workDir, { recursive: true, force: true }));
// Exactly the build context the Dockerfile gets, plus this checkout's node_modules.
const context = readText('.dockerignore')
  .split('\n')
  .filter((line) => line.startsWith('!'))
  .map((line) => line.slice(1));
for (const entry of context) await cp(join(root, entry), join(workDir, entry), { recursive: true });
await symlink(join(root, 'node_modules'), join(workDir, 'node_modules'), 'dir');
await run('npm', ['run', 'build'], { cwd: workDir, timeout: BUILD_TIMEOUT_MS });
const dist = join(workDir, 'dist');

/** The PG* variables compose and Kubernetes set, for a postgres:// URL. */
function pgEnv(url: string): NodeJS.ProcessEnv {
  const parsed = new URL(url);
  return {
    PGHOST: parsed.hostname,
    PGPORT: parsed.port || '5432',
    PGUSER: decodeURIComponent(parsed.username),
    PGPASSWORD: decodeURIComponent(parsed.password),
    PGDATABASE: parsed.pathname.slice(1),
  };
}

test('When the project is built from the Docker build context with npm run build, dist/ holds the entry points, the page and every SQL and JavaScript migration', async () => {
  const files = new Set(await readdir(dist, { recursive: true }));
  for (const file of ['app/server.js', 'infra/migrate.js', 'infra/sessions-cli.js', 'app/public/index.html'])
    assert.ok(files.has(file), `dist/${file}`);
  const migrations = (await readdir(join(root, 'infra/migrations'))).filter((f) => /\.(sql|js)$/.test(f));
  assert.ok(migrations.length > 0);
  assert.deepEqual((await readdir(join(dist, 'infra/migrations'))).sort(), migrations.sort());
});

test('When the compiled migration runs with plain node on an empty database, it applies every migration, and a second run finds nothing to do', async () => {
  const env = { PATH: process.env.PATH, ...pgEnv(await emptyDatabase()) };
  const first = await run(process.execPath, [join(dist, 'infra/migrate.js')], { cwd: workDir, env });
  assert.match(first.stdout, /^migrate: applied \d{14}_session-table/);
  const second = await run(process.execPath, [join(dist, 'infra/migrate.js')], { cwd: workDir, env });
  assert.equal(second.stdout.trim(), 'migrate: database is up to date');
});

test("When the compiled sessions command runs with plain node, the PG* variables and NODE_ENV=production (as docker compose run and kubectl exec run it), it lists and revokes a user's sessions", async () => {
  const url = await migratedDatabase();
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const { rows } = await db.query(`INSERT INTO users (username, password_hash) VALUES ('ops-target', 'x') RETURNING id::text`);
    const sess = { cookie: { originalMaxAge: 3_600_000 }, user: { id: rows[0].id, username: 'ops-target' }, device: 'Chrome on Linux' };
    await db.query(`INSERT INTO session (sid, sess, expire) VALUES ('dist-test', $1, now() + interval '1 hour')`, [JSON.stringify(sess)]);
  } finally {
    await db.end();
  }
  const env = { NODE_ENV: 'production', SESSION_SECRET: TEST_SECRET, ...pgEnv(url) };
  const script = join(dist, 'infra/sessions-cli.js');
  const list = await runSessionsCli(['list', '--user', 'ops-target'], env, script);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^1 live session\(s\) of ops-target\n.*\n.*Chrome on Linux\n$/);
  const revoke = await runSessionsCli(['revoke', '--user', 'ops-target'], env, script);
  assert.equal(revoke.code, 0, revoke.stderr);
  assert.match(revoke.stdout, /^revoked 1 live session\(s\) of ops-target/);
});

test('When the compiled server runs with plain node in production mode, it serves the page, its assets and every probe path, and exits 0 on SIGTERM', async (t) => {
  const logFile = join(workDir, 'server.log');
  const env = {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    SESSION_SECRET: TEST_SECRET,
    LOG_LEVEL: 'warn',
    SHUTDOWN_DRAIN_MS: '0',
    ...pgEnv(await migratedDatabase()),
  };
  const server = startReplica({ port: await freePort(), env, logFile, args: [join(dist, 'app/server.js')] });
  t.after(() => server.stop('SIGKILL'));
  await waitForReady(server).catch(async (err: Error) => assert.fail(`${err.message}\n${await readFile(logFile, 'utf8')}`));

  const page = await fetch(`${server.url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  const html = await page.text();
  for (const asset of ['style.css', 'app.js']) {
    assert.ok(html.includes(asset), `the page links ${asset}`);
    const res = await fetch(`${server.url}/${asset}`);
    assert.equal(res.status, 200, asset);
    await res.text();
  }

  const container = manifest(loadManifests('k8s'), 'Deployment', 'app').spec.template.spec.containers[0];
  const probePaths = ['startupProbe', 'readinessProbe', 'livenessProbe'].map((probe) => container[probe].httpGet.path as string);
  const healthcheck = /'(\/[\w-]+)'/.exec(loadCompose().services.app.healthcheck.test.join(' '))![1]!;
  for (const path of new Set([...probePaths, healthcheck])) {
    const res = await fetch(`${server.url}${path}`);
    assert.equal(res.status, 200, path);
    await res.text();
  }
  assert.equal(await server.stop('SIGTERM'), 0);
});

test('When the compiled code imports a package, it is a production dependency (the image installs no dev dependencies)', async () => {
  const { dependencies } = JSON.parse(readText('package.json')) as { dependencies: Record<string, string> };
  const builtins = new Set(builtinModules);
  const imported = new Set<string>();
  for (const file of await readdir(dist, { recursive: true })) {
    if (!file.endsWith('.js') || file.startsWith('app/public/')) continue;
    const source = await readFile(join(dist, file), 'utf8');
    for (const [, specifier] of source.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"./][^'"]*)['"]/gm)) {
      const name = specifier!.startsWith('@') ? specifier!.split('/').slice(0, 2).join('/') : specifier!.split('/')[0]!;
      if (!name.startsWith('node:') && !builtins.has(name)) imported.add(name);
    }
  }
  assert.ok(imported.has('pg') && imported.has('express'), [...imported].join(', '));
  assert.deepEqual(
    [...imported].filter((name) => !(name in dependencies)),
    [],
  );
});
