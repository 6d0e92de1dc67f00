/**
 * `npm test`: provides one real Postgres for the whole run (DATABASE_URL, else Testcontainers, else embedded),
 * then runs every test file with node's test runner. Pass file paths to run only those.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, relative } from 'node:path';
import { startPostgres } from '../infra/postgres.js';

const root = fileURLToPath(new URL('..', import.meta.url));
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
let code = 1;
try {
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
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
