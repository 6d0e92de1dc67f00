/**
 * The compiled app, as production runs it (the Dockerfile's `node dist/app/server.js`): what the profile and the
 * memory figures must measure, since tsx's loader adds its own compiler and memory to a replica.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const compiledServer = join(root, 'dist', 'app', 'server.js');
let built = false;

/** Runs `npm run build` once per process; throws with one line if it fails. */
export function buildApp(log: (line: string) => void): string {
  if (built) return compiledServer;
  log('npm run build (replicas run the compiled app, as in production)');
  const result = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (result.status !== 0) throw new Error('npm run build failed');
  built = true;
  return compiledServer;
}
