/** `npm start` as a user runs it: one command brings up the cluster; SIGHUP rolls it; SIGTERM stops it, exit 0. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../infra/ports.js';
import { migratedDatabase } from './helpers/database.js';
import { HttpClient, PASSWORD, uniqueName } from './helpers/http-client.js';

const entry = fileURLToPath(new URL('../infra/start.ts', import.meta.url));

async function until(check: () => boolean, what: string, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('npm start', () => {
  it('When started, then it prints the URL, serves through nginx, rolls on SIGHUP and exits 0 on SIGTERM', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'start-cli-'));
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', entry, '--replicas', '2', '--port', String(port), '--data-dir', dataDir], {
      env: { ...process.env, DATABASE_URL: await migratedDatabase() },
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    t.after(() => {
      child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    });

    await until(() => output.includes('Ready:'), 'Ready');
    assert.match(output, new RegExp(`Ready: http://127\\.0\\.0\\.1:${port} +\\(2 replicas behind nginx, PostgreSQL: env\\)`));
    const readState = () => JSON.parse(readFileSync(join(dataDir, 'cluster.json'), 'utf8')) as { pid: number; replicas: { pid: number }[] };
    const before = readState();
    assert.equal(before.pid, child.pid);
    assert.equal(before.replicas.length, 2);

    const client = new HttpClient(`http://127.0.0.1:${port}`);
    assert.equal((await client.post('/api/register', { username: uniqueName(), password: PASSWORD })).status, 201);

    child.kill('SIGHUP');
    await until(() => output.includes('rolling restart done'), 'the rolling restart');
    assert.equal((await client.get('/api/me')).status, 200);
    // The roll replaced both processes: the old ones are gone, the state file names the new ones.
    const isRunning = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (const replica of before.replicas) assert.equal(isRunning(replica.pid), false, `old replica ${replica.pid} is gone after the roll`);
    const after = readState();
    assert.equal(after.replicas.length, 2);
    for (const replica of after.replicas) assert.equal(isRunning(replica.pid), true, `new replica ${replica.pid} runs`);

    const stoppedAt = Date.now();
    child.kill('SIGTERM');
    assert.equal(await exited, 0, output);
    assert.ok(Date.now() - stoppedAt < 30_000);
    assert.match(output, /stopped/);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'nginx is gone');
    for (const replica of after.replicas) assert.equal(isRunning(replica.pid), false, `replica ${replica.pid} is gone after stop`);
  });

  it('When --replicas is not a number, then it exits 1 with one line', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry, '--replicas', 'many'], { env: process.env });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(code, 1);
    assert.equal(stderr.trim(), 'npm start: --replicas must be a whole number from 1 to 32');
  });
});
