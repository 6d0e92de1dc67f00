/**
 * DATABASE_SSL against a real PostgreSQL that serves a certificate signed by a CA made here, with real replica
 * processes: which modes connect, that TLS is really in use (pg_stat_ssl), and the one-line startup errors.
 */
import { describe, it, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, chown, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startEmbedded } from '../../infra/embedded-postgres.js';
import { createDatabase, type PostgresHandle } from '../../infra/postgres.js';
import { migrate } from '../../infra/migrate.js';
import { freePort } from '../../infra/ports.js';
import { startReplica, waitForReady, type ReplicaProcess } from '../../infra/replica.js';
import { createCa, issueServerCertificate, type KeyPair } from '../helpers/certificates.js';
import { replicaEnv } from '../helpers/replicas.js';
import { HttpClient, PASSWORD, uniqueName } from '../helpers/http-client.js';

let dir: string;
let postgres: PostgresHandle;
let ca: KeyPair;
let otherCa: KeyPair;

/** Turns TLS on in the running server (ssl settings reload without a restart) and waits until it is served. */
async function enableTls(url: string, server: KeyPair): Promise<void> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const dataDir = (await admin.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!.data_directory;
    // The server refuses a key readable by others, and as root it runs as the owner of its data folder.
    const owner = await stat(dataDir);
    await chmod(server.key, 0o600);
    if (process.getuid?.() === 0) await chown(server.key, owner.uid, owner.gid);
    await chmod(server.cert, 0o644);
    await admin.query(`ALTER SYSTEM SET ssl_cert_file = ${admin.escapeLiteral(server.cert)}`);
    await admin.query(`ALTER SYSTEM SET ssl_key_file = ${admin.escapeLiteral(server.key)}`);
    await admin.query('ALTER SYSTEM SET ssl = on');
    await admin.query('SELECT pg_reload_conf()');
  } finally {
    await admin.end();
  }
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new pg.Client({ connectionString: url, ssl: { rejectUnauthorized: false } });
    try {
      await probe.connect();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`PostgreSQL did not start serving TLS: ${(err as Error).message}`, { cause: err });
      await sleep(100);
    } finally {
      await probe.end().catch(() => {});
    }
  }
}

async function migratedDatabase(name: string): Promise<string> {
  const url = await createDatabase(postgres.url, name);
  await migrate({ DATABASE_URL: url });
  return url;
}

/** A replica whose stdout and stderr go to a file we can read (startup errors, warnings). */
function logged(t: TestContext, port: number, env: NodeJS.ProcessEnv) {
  const logFile = join(dir, `replica-${port}.log`);
  const replica = startReplica({ port, env, logFile });
  t.after(() => replica.stop('SIGKILL'));
  return { replica, log: () => readFile(logFile, 'utf8') };
}

/** TLS state of the app's connections to `database`, from the server's side. */
async function appConnections(database: string): Promise<{ count: number; allTls: boolean; anyTls: boolean }> {
  const admin = new pg.Client({ connectionString: postgres.url });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ count: number; all_tls: boolean; any_tls: boolean }>(
      `SELECT count(*)::int AS count, coalesce(bool_and(s.ssl), false) AS all_tls, coalesce(bool_or(s.ssl), false) AS any_tls
       FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
       WHERE a.datname = $1 AND a.application_name = 'express-pg-sessions'`,
      [database],
    );
    return { count: rows[0]!.count, allTls: rows[0]!.all_tls, anyTls: rows[0]!.any_tls };
  } finally {
    await admin.end();
  }
}

async function registers(replica: ReplicaProcess): Promise<void> {
  const res = await new HttpClient(replica.url).post('/api/register', { username: uniqueName('tls'), password: PASSWORD });
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

function withHost(url: string, host: string): string {
  const u = new URL(url);
  u.hostname = host;
  return u.toString();
}

async function startupError(t: TestContext, env: NodeJS.ProcessEnv): Promise<string> {
  const { replica, log } = logged(t, await freePort(), env);
  assert.equal(await replica.exited, 1, 'the replica refuses to start');
  const lines = (await log()).split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `one line: ${lines.join(' | ')}`);
  return lines[0]!;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'db-tls-'));
  await chmod(dir, 0o755); // as root the server runs as the postgres user and must reach the certificate files
  [ca, otherCa] = await Promise.all([createCa(dir, 'test-ca'), createCa(dir, 'other-ca')]);
  const server = await issueServerCertificate(ca, dir, 'postgres', ['IP:127.0.0.1']);
  postgres = await startEmbedded({});
  await enableTls(postgres.url, server);
});
after(async () => {
  await postgres?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('Database TLS', () => {
  it('When DATABASE_SSL=verify-full names the CA that signed the server certificate, then the replica starts and its queries run over TLS', async (t) => {
    const url = await migratedDatabase('tls_verify');
    const { replica } = logged(t, await freePort(), replicaEnv(url, { DATABASE_SSL: 'verify-full', DATABASE_SSL_CA: ca.cert }));
    await waitForReady(replica);
    await registers(replica);
    const connections = await appConnections('tls_verify');
    assert.ok(connections.count > 0);
    assert.equal(connections.allTls, true);
  });

  it('When DATABASE_SSL=require, then it connects over TLS without checking the server, and says so in a warning', async (t) => {
    const url = await migratedDatabase('tls_require');
    const { replica, log } = logged(t, await freePort(), replicaEnv(url, { DATABASE_SSL: 'require' }));
    await waitForReady(replica);
    await registers(replica);
    assert.equal((await appConnections('tls_require')).allTls, true);
    assert.match(await log(), /"level":40.*DATABASE_SSL=require encrypts the connection but does not verify the server/);
  });

  it('When DATABASE_SSL=disable and the server also accepts plain connections, then it connects without TLS', async (t) => {
    const url = await migratedDatabase('tls_disable');
    const { replica } = logged(t, await freePort(), replicaEnv(url, { DATABASE_SSL: 'disable' }));
    await waitForReady(replica);
    await registers(replica);
    const connections = await appConnections('tls_disable');
    assert.ok(connections.count > 0);
    assert.equal(connections.anyTls, false, 'no connection of the app uses TLS');
  });

  it('When verify-full is given another CA, then the replica stops at startup with one line naming the certificate problem', async (t) => {
    const line = await startupError(t, replicaEnv(postgres.url, { DATABASE_SSL: 'verify-full', DATABASE_SSL_CA: otherCa.cert }));
    // OpenSSL's words: the server sends only its own certificate, which nothing in the given CA file signed. Node 26 (and
    // maybe 24) appends a hint about the system's CA store to this error.
    assert.match(
      line,
      /^Cannot use the database at startup: (unable to verify the first certificate|self-signed certificate in certificate chain)(; if the root CA is installed locally, try running Node\.js with --use-system-ca)?$/,
    );
  });

  it('When verify-full connects by a name the certificate does not carry, then the replica stops with one line naming the mismatch', async (t) => {
    const line = await startupError(
      t,
      replicaEnv(withHost(postgres.url, 'localhost'), { DATABASE_SSL: 'verify-full', DATABASE_SSL_CA: ca.cert }),
    );
    assert.match(line, /^Cannot use the database at startup: Hostname\/IP does not match certificate's altnames: Host: localhost\. /);
  });
});
