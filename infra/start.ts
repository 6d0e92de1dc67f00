/**
 * `npm start`: the whole cluster on this machine. Postgres (DATABASE_URL, else an embedded one whose data stays
 * in .data/postgres), migrations once, N replicas, nginx on 127.0.0.1:8080. SIGHUP rolls, SIGINT/SIGTERM stop.
 * Options: --replicas N (3), --port P (8080), --data-dir DIR (.data: secret, logs, state file, embedded data),
 * --oidc-mock (a local OpenID Connect provider, and "Sign in with OIDC" on the page; a local account connections provider too).
 */
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startPostgres } from './postgres.js';
import { migrate } from './migrate.js';
import { startCluster } from './cluster.js';
import { startOidcMock } from './oidc-mock.js';
import { startConnectionsMock } from './connections-mock.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const STOP_DEADLINE_MS = 30_000;

function fail(message: string): never {
  console.error(`npm start: ${message}`);
  process.exit(1);
}

function options() {
  try {
    const { values } = parseArgs({
      options: {
        replicas: { type: 'string', default: '3' },
        port: { type: 'string', default: '8080' },
        'data-dir': { type: 'string', default: join(root, '.data') },
        'oidc-mock': { type: 'boolean', default: false },
      },
    });
    const replicas = Number(values.replicas);
    const port = Number(values.port);
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 32) fail('--replicas must be a whole number from 1 to 32');
    if (!Number.isInteger(port) || port < 1 || port > 65535) fail('--port must be a TCP port (1-65535)');
    return { replicas, port, dataDir: resolve(values['data-dir']), oidcMock: values['oidc-mock'] };
  } catch (err) {
    fail((err as Error).message);
  }
}

/** A secret every replica must share, kept across runs so cookies stay valid and stored tokens readable. */
function keptSecret(setting: string, fileName: string, make: () => string): string {
  if (process.env[setting]) return process.env[setting];
  const file = join(dataDir, fileName);
  if (!existsSync(file)) writeFileSync(file, make(), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

const { replicas, port, dataDir, oidcMock } = options();
const stateFile = join(dataDir, 'cluster.json');
mkdirSync(dataDir, { recursive: true, mode: 0o755 });
const logDir = join(dataDir, 'logs');
const say = (line: string) => console.log(line);

mkdirSync(logDir, { recursive: true });
const postgresLog = createWriteStream(join(logDir, 'postgres.log'), { flags: 'a' });
const postgres = await startPostgres({
  dataDir: join(dataDir, 'postgres'),
  log: say,
  serverLog: (line) => postgresLog.write(`${line}\n`),
  useContainers: false,
}).catch((err: Error) => fail(`cannot start PostgreSQL: ${err.message}`));
const applied = await migrate({ ...process.env, DATABASE_URL: postgres.url }).catch(async (err: Error) => {
  await postgres.stop();
  return fail(`migrations failed: ${err.message}`);
});
say(applied.length ? `migrations: applied ${applied.join(', ')}` : 'migrations: database is up to date');

const oidc = oidcMock ? await startOidcMock() : undefined;
const connections = oidcMock ? await startConnectionsMock() : undefined;
const connectionsEnv = connections && {
  ...connections.env(`http://127.0.0.1:${port}`),
  CONNECTIONS_KEY: keptSecret('CONNECTIONS_KEY', 'connections-key', () => randomBytes(32).toString('base64')),
};
const cluster = await startCluster({
  databaseUrl: postgres.url,
  replicas,
  port,
  // The provider sends the browser back through nginx, to whichever replica.
  env: {
    SESSION_SECRET: keptSecret('SESSION_SECRET', 'session-secret', () => randomBytes(48).toString('base64url')),
    ...oidc?.env(`http://127.0.0.1:${port}/api/oidc/callback`),
    ...connectionsEnv,
  },
  logDir,
  stateFile,
  log: say,
}).catch(async (err: Error) => {
  await oidc?.stop();
  await connections?.stop();
  await postgres.stop();
  return fail(err.message);
});

say(`\nReady: ${cluster.url}  (${replicas} replicas behind nginx, PostgreSQL: ${postgres.source})`);
say(
  `Logs:  ${relative(process.cwd(), logDir) || '.'}/replica-N.log and postgres.log, nginx in ${relative(process.cwd(), cluster.nginx.runDir)}`,
);
say(`State: ${relative(process.cwd(), stateFile)}`);
if (oidc) say(`OIDC:  local provider at ${oidc.issuerUrl}; "Sign in with OIDC" on the page signs in as johndoe`);
if (connections) say(`Connections: local OAuth 2.0 provider at ${connections.url}; "Connect" under "Connected accounts" connects to it`);
say('Ctrl+C stops everything; `kill -HUP <pid>` restarts the replicas one at a time.\n');

let busy = false;
process.on('SIGHUP', async () => {
  if (busy) return;
  busy = true;
  say('SIGHUP: rolling restart');
  try {
    await cluster.rollingRestart();
    say('rolling restart done');
  } catch (err) {
    say(`rolling restart failed: ${(err as Error).message}`);
  } finally {
    busy = false;
  }
});

let stopping = false;
async function stop(signal: string) {
  if (stopping) return;
  stopping = true;
  say(`${signal}: stopping`);
  // The whole stop is bounded: a hung child must not keep the terminal.
  setTimeout(() => fail(`did not stop within ${STOP_DEADLINE_MS / 1000} s`), STOP_DEADLINE_MS).unref();
  await cluster.stop();
  await oidc?.stop();
  await connections?.stop();
  await postgres.stop();
  say('stopped');
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));
