/**
 * Compose commands, checked offline (no container engine here): infra/compose-rollout.sh run with a stand-in `docker`
 * that records every call, and every `docker compose` command the README and docs/deployment.md give.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadCompose, readText, root } from './files.js';

const run = promisify(execFile);
const compose = loadCompose();
const OLD_IDS = ['old1', 'old2', 'old3'];

// `docker compose up` options, from https://docs.docker.com/reference/cli/docker/compose/up/ (Compose v2).
const UP_FLAGS = new Set([
  '--abort-on-container-exit',
  '--abort-on-container-failure',
  '--always-recreate-deps',
  '--attach',
  '--attach-dependencies',
  '--build',
  '-d',
  '--detach',
  '--exit-code-from',
  '--force-recreate',
  '--menu',
  '--no-attach',
  '--no-build',
  '--no-color',
  '--no-deps',
  '--no-log-prefix',
  '--no-recreate',
  '--no-start',
  '--pull',
  '--quiet-pull',
  '--remove-orphans',
  '-V',
  '--renew-anon-volumes',
  '--scale',
  '-t',
  '--timeout',
  '--timestamps',
  '--wait',
  '--wait-timeout',
  '-w',
  '--watch',
  '-y',
  '--yes',
]);

/** Runs the script with `docker` and `sleep` replaced by recorders; returns each call as one line. */
async function rolloutCalls(runningIds: string[]): Promise<{ calls: string[]; code: number; stderr: string }> {
  const bin = await mkdtemp(join(tmpdir(), 'fake-docker-'));
  const log = join(bin, 'calls');
  await writeFile(log, '');
  const recorder = (name: string, output = '') => `#!/bin/sh\necho "${name} $*" >> "${log}"\n${output}`;
  await writeFile(
    join(bin, 'docker'),
    recorder('docker', `[ "$*" = "compose ps -q app" ] && printf '${runningIds.map((id) => `${id}\\n`).join('')}'\nexit 0\n`),
  );
  await writeFile(join(bin, 'sleep'), recorder('sleep'));
  await chmod(join(bin, 'docker'), 0o755);
  await chmod(join(bin, 'sleep'), 0o755);
  const env = { PATH: `${bin}:${process.env.PATH}` };
  const result = await run('sh', [join(root, 'infra/compose-rollout.sh')], { cwd: root, env }).then(
    (r) => ({ code: 0, stderr: r.stderr }),
    (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
  );
  return { ...result, calls: (await readFile(log, 'utf8')).split('\n').filter(Boolean) };
}

test('When compose-rollout.sh runs, it builds, migrates once, starts as many new replicas beside the old ones, then stops the old ones one at a time', async () => {
  const { calls, code } = await rolloutCalls(OLD_IDS);
  assert.equal(code, 0);
  const grace = Number(/^(\d+)s$/.exec(compose.services.app.stop_grace_period)![1]);
  assert.deepEqual(calls, [
    'docker compose ps -q app',
    'docker compose build app migrate',
    'docker compose run --rm migrate',
    'docker compose up -d --no-deps --no-recreate --wait --scale app=6 app',
    'sleep 6',
    ...OLD_IDS.flatMap((id) => [`docker stop -t ${grace} ${id}`, `docker rm ${id}`, 'sleep 6']),
  ]);
  // nginx re-resolves `app` this often; the script must wait at least as long before each change takes effect.
  const valid = Number(/resolver 127\.0\.0\.11 valid=(\d+)s/.exec(readText('nginx.conf'))![1]);
  assert.ok(calls.filter((c) => c.startsWith('sleep')).every((c) => Number(c.split(' ')[1]) > valid));
});

test('When no replica runs, compose-rollout.sh stops with one line saying how to start the stack, and changes nothing', async () => {
  const { calls, code, stderr } = await rolloutCalls([]);
  assert.equal(code, 1);
  assert.equal(stderr.trim(), 'compose-rollout: no app replica is running; start the stack with: docker compose up --build -d');
  assert.deepEqual(calls, ['docker compose ps -q app']);
});

/** Every `docker compose ...` command in a text, cut at shell separators, comments and the end of inline code. */
function composeCommands(text: string): string[][] {
  return [...text.matchAll(/docker compose ([^`\n|;&#)"]+)/g)].map((m) => m[1]!.trim().split(/\s+/));
}

test('When the README and docs/deployment.md give a docker compose command, `up` rebuilds or keeps the running replicas, with real flags, scaling scalable services', () => {
  const commands = ['README.md', 'docs/deployment.md', 'infra/compose-rollout.sh'].flatMap((file) =>
    composeCommands(readText(file)).map((args) => ({ file, args })),
  );
  // A bare `docker compose up` is the command named in prose ("`docker compose up` refuses to start while ...").
  const ups = commands.filter((c) => c.args[0] === 'up' && c.args.length > 1);
  assert.ok(ups.length >= 4, `found ${ups.length}`);
  for (const { file, args } of ups) {
    const where = `${file}: docker compose ${args.join(' ')}`;
    assert.ok(args.includes('--build') || args.includes('--no-recreate'), `${where}: a changed checkout would run the old image`);
    const flags = args.slice(1).filter((a) => a.startsWith('-'));
    assert.deepEqual(
      flags.filter((f) => !UP_FLAGS.has(f)),
      [],
      where,
    );
    for (const scale of args.filter((_a, i) => args[i - 1] === '--scale')) {
      const service = compose.services[scale.split('=')[0]!];
      assert.ok(
        service && !service.container_name && !service.ports,
        `${where}: ${scale} needs a service without container_name and published ports`,
      );
    }
  }
  for (const { file, args } of commands) {
    if (!['up', 'run', 'build'].includes(args[0]!)) continue;
    for (const service of args.slice(1).filter((a) => !a.startsWith('-') && !a.includes('='))) {
      assert.ok(service in compose.services, `${file}: docker compose ${args.join(' ')}: no service ${service}`);
    }
  }
  assert.match(readText('docs/deployment.md'), /`docker compose restart app` restarts every replica at the same time/);
  assert.match(readText('README.md'), /infra\/compose-rollout\.sh/, 'the README points to the rollout');
});
