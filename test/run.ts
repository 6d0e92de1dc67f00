/**
 * `npm test`: provides one real Postgres for the whole run (DATABASE_URL, else Testcontainers, else embedded),
 * then runs every test file with node's test runner. Pass file paths to run only those. Each test fails after
 * TEST_TIMEOUT_MS (default 4 minutes), and the run exits once every test is done, even if a test left a handle open.
 * `npm run test:unit` (`--unit`): only the files that need no PostgreSQL, nginx run or browser: seconds, not minutes.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, relative } from 'node:path';
import { startPostgres } from '../infra/postgres.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const TEST_TIMEOUT_MS = Number(process.env.TEST_TIMEOUT_MS ?? 240_000);
const testDir = fileURLToPath(new URL('.', import.meta.url));

/** Configuration, published secrets and the deployment files, checked offline. */
const UNIT_FILES = [
  'test/config.test.ts',
  'test/connections-config.test.ts',
  'test/published-secrets.test.ts',
  'test/deploy/compose-rollout.test.ts',
  'test/deploy/compose.test.ts',
  'test/deploy/consistency.test.ts',
  'test/deploy/dockerfile.test.ts',
  'test/deploy/k8s-environments.test.ts',
  'test/deploy/k8s-manifests.test.ts',
  'test/deploy/nginx-k8s.test.ts',
];
const unit = process.argv[2] === '--unit';
const files = unit
  ? UNIT_FILES
  : process.argv.slice(2).length
    ? process.argv.slice(2)
    : readdirSync(testDir, { recursive: true, encoding: 'utf8' })
        .filter((f) => f.endsWith('.test.ts'))
        .sort()
        .map((f) => relative(root, join(testDir, f)));

function runTests(env: NodeJS.ProcessEnv): Promise<number> {
  // A hung test fails after TEST_TIMEOUT_MS instead of holding CI until its limit; the slowest suite takes under a
  // minute on a loaded 2-core machine.
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-timeout=${TEST_TIMEOUT_MS}`, '--test-force-exit', ...files],
    {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, ...env, NODE_ENV: 'test' },
    },
  );
  const stop = () => child.kill('SIGINT');
  process.once('SIGINT', stop).once('SIGTERM', stop);
  return new Promise<number>((resolve) => child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
}

if (unit) process.exit(await runTests({ TEST_DATABASE_URL: '' }));

const postgres = await startPostgres({ log: (line) => console.log(line) }).catch((err: Error) => {
  console.error(`test: no PostgreSQL for the tests: ${err.message}`);
  process.exit(1);
});
let code: number;
try {
  code = await runTests({ TEST_DATABASE_URL: postgres.url });
} finally {
  await postgres.stop();
}
process.exit(code);
