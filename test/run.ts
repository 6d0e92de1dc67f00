/**
 * `npm test`: provides one real Postgres for the whole run (DATABASE_URL, else Testcontainers, else embedded),
 * then runs every test file with node's test runner. Pass file paths to run only those. Each test fails after
 * TEST_TIMEOUT_MS (default 4 minutes), and the run exits once every test is done, even if a test left a handle open.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, relative } from 'node:path';
import { startPostgres } from '../infra/postgres.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const TEST_TIMEOUT_MS = Number(process.env.TEST_TIMEOUT_MS ?? 240_000);
const testDir = fileURLToPath(new URL('.', import.meta.url));
const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : readdirSync(testDir, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => relative(root, join(testDir, f)));

const postgres = await startPostgres({ log: (line) => console.log(line) }).catch((err: Error) => {
  console.error(`test: no PostgreSQL for the tests: ${err.message}`);
  process.exit(1);
});
let code: number;
try {
  // A hung test fails after TEST_TIMEOUT_MS instead of holding CI until its limit; the slowest suite takes under a
  // minute on a loaded 2-core machine.
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-timeout=${TEST_TIMEOUT_MS}`, '--test-force-exit', ...files], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, TEST_DATABASE_URL: postgres.url, NODE_ENV: 'test' },
  });
  const stop = () => child.kill('SIGINT');
  process.once('SIGINT', stop).once('SIGTERM', stop);
  code = await new Promise<number>((resolve) => child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
} finally {
  await postgres.stop();
}
process.exit(code);
