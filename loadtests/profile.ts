/**
 * `npm run profile`: Clinic.js Doctor (https://clinicjs.org/doctor/) on one replica under the sharing traffic.
 * Builds the app (`npm run build`), starts a throwaway PostgreSQL, runs
 * `clinic doctor --on-port <load> -- node dist/app/server.js` and leaves the HTML report in results/profile/.
 * The compiled build, not tsx: tsx's loader runs in a worker thread, which clinic would sample as a second process
 * (and production runs the build). Options: --users N (50), --duration S (20), --out DIR (results).
 */
import { spawn } from 'node:child_process';
import { buildApp } from './build.js';
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startPostgres } from '../infra/postgres.js';
import { migrate } from '../infra/migrate.js';
import { freePort } from '../infra/ports.js';
import { LOAD_TEST_SCRYPT_COST } from './target.js';
import { toolReplicaEnv } from '../infra/replica-env.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const clinicBin = join(root, 'node_modules', 'clinic', createRequire(import.meta.url)('clinic/package.json').bin.clinic);
const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '50' },
    duration: { type: 'string', default: '20' },
    out: { type: 'string', default: 'results' },
  },
});
const users = Number(values.users);
const duration = Number(values.duration);
if (!Number.isInteger(users) || users < 1 || !Number.isInteger(duration) || duration < 2) {
  console.error('profile: --users and --duration must be whole numbers (at least 1 and 2)');
  process.exit(2);
}
const dest = resolve(values.out, 'profile');

let server: string;
try {
  server = buildApp((line) => console.error(`profile: ${line}`));
} catch (err) {
  console.error(`profile: ${(err as Error).message}`);
  process.exit(1);
}

const postgres = await startPostgres({ env: {}, log: (line) => console.error(line) });
let code: number;
try {
  await migrate({ DATABASE_URL: postgres.url });
  const port = await freePort();
  const load = `"${process.execPath}" --import tsx "${join(root, 'loadtests', 'profile-load.ts')}" ${users} ${duration}`;
  console.error(`profile: clinic doctor on one replica (port ${port}), ${users} users for ${duration} s; the analysis takes a while`);
  const child = spawn(
    process.execPath,
    [clinicBin, 'doctor', '--open=false', '--dest', dest, '--on-port', load, '--', process.execPath, server],
    {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        NO_INSIGHT: '1', // clinic would otherwise ask whether it may send usage data
        ...toolReplicaEnv(postgres.url, {
          PASSWORD_SCRYPT_COST: String(LOAD_TEST_SCRYPT_COST),
          LOGIN_MAX_FAILURES_PER_IP: '1000000',
          HOST: '127.0.0.1',
          PORT: String(port),
        }),
      },
    },
  );
  code = await new Promise<number>((done) => child.once('exit', (c) => done(c ?? 1)));
} finally {
  await postgres.stop();
}
const reports = readdirSync(dest, { withFileTypes: true })
  .filter((e) => e.isFile() && e.name.endsWith('.clinic-doctor.html'))
  .map((e) => join(dest, e.name))
  .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
if (code === 0 && reports[0]) console.log(`\nClinic Doctor report: ${reports[0]}\nHow to read it: docs/load-testing.md#profiling`);
else console.error(`profile: clinic doctor exited with ${code}`);
process.exit(code);
