/** The configuration schema itself: defaults, rotation, database settings and their one-line errors. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../app/config.js';
import { generatedSecret } from '../infra/replica-env.js';

const SECRET = 'x'.repeat(32);

describe('Configuration', () => {
  it('When nothing is set, then development defaults apply and the fixed secret is warned about', () => {
    const config = loadConfig({});
    assert.equal(config.env, 'development');
    assert.equal(config.port, 3000);
    assert.equal(config.session.maxAgeMs, 30 * 24 * 3600 * 1000);
    assert.equal(config.session.store, 'postgres');
    assert.equal(config.database.poolMax, 10);
    assert.equal(config.database.ssl.mode, 'disable');
    assert.equal(config.session.maxBytes, 4096);
    assert.match(config.instanceId, /-\d+$/, 'host name + pid');
    assert.ok(config.warnings.some((w) => w.includes('SESSION_SECRET')));
  });

  it('When several secrets are given, then all are kept in order (the first signs)', () => {
    const config = loadConfig({ SESSION_SECRET: ` new-${SECRET} , old-${SECRET} ` });
    assert.deepEqual(config.session.secrets, [`new-${SECRET}`, `old-${SECRET}`]);
  });

  it('When the memory store is chosen outside production, then a warning says sessions are lost', () => {
    assert.ok(loadConfig({ SESSION_STORE: 'memory' }).warnings.some((w) => /lost on restart/.test(w)));
  });

  it('When Supabase settings are given, then they become a verified TLS connection to db.<ref>.supabase.co', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ca-'));
    writeFileSync(join(dir, 'ca.crt'), 'CERT');
    const config = loadConfig({
      SUPABASE_URL: 'https://abcdefgh.supabase.co',
      SUPABASE_DB_PASSWORD: 'p@ss/word',
      DATABASE_SSL_CA: join(dir, 'ca.crt'),
    });
    assert.equal(config.database.connectionString, 'postgres://postgres:p%40ss%2Fword@db.abcdefgh.supabase.co:5432/postgres');
    assert.deepEqual(config.database.ssl, { mode: 'verify-full', ca: 'CERT' });
  });

  it('When Supabase is used without its CA file, then startup names DATABASE_SSL_CA', () => {
    assert.throws(
      () => loadConfig({ SUPABASE_URL: 'https://abcdefgh.supabase.co', SUPABASE_DB_PASSWORD: 'pw' }),
      /DATABASE_SSL_CA: is required/,
    );
  });

  it('When DATABASE_URL carries sslmode, then it is the default TLS mode and is removed from the URL', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://u:p@db.example:5432/app?sslmode=require&application_name=x' });
    assert.equal(config.database.ssl.mode, 'require');
    assert.equal(config.database.connectionString, 'postgres://u:p@db.example:5432/app?application_name=x');
    assert.ok(config.warnings.some((w) => w.includes('does not verify')));
  });

  it('When the CA file cannot be read, then startup names DATABASE_SSL_CA', () => {
    assert.throws(
      () => loadConfig({ DATABASE_URL: 'postgres://db/app', DATABASE_SSL: 'verify-full', DATABASE_SSL_CA: '/nonexistent/ca.pem' }),
      /^ConfigError: Invalid configuration: DATABASE_SSL_CA: cannot read/,
    );
  });

  it('When a value is out of range, then the error is one line naming the setting', () => {
    for (const [name, value] of [
      ['PG_POOL_MAX', '0'],
      ['SESSION_MAX_AGE_SECONDS', '-5'],
      ['DATABASE_URL', 'mysql://x'],
      ['LOG_LEVEL', 'loud'],
      ['SESSION_MAX_BYTES', '100'],
      ['SESSION_MAX_BYTES', '4kb'],
      ['PASSWORD_HASH_CONCURRENCY', '0'],
      ['PASSWORD_HASH_CONCURRENCY', '1.5'],
      ['PASSWORD_HASH_CONCURRENCY', 'many'],
      ['PASSWORD_HASH_QUEUE', '-1'],
      ['PASSWORD_HASH_QUEUE', 'lots'],
    ]) {
      try {
        loadConfig({ [name!]: value });
        assert.fail(`${name}=${value} was accepted`);
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, new RegExp(`^Invalid configuration: ${name}: `));
        assert.equal(err.message.split('\n').length, 1);
      }
    }
  });

  it('When METRICS_PORT is unset, then metrics get port 9464; 0 turns them off; a bad or clashing port is one line naming it', () => {
    assert.equal(loadConfig({}).metricsPort, 9464);
    assert.equal(loadConfig({ METRICS_PORT: '0' }).metricsPort, undefined);
    assert.equal(loadConfig({ METRICS_PORT: '9100' }).metricsPort, 9100);
    for (const env of [{ METRICS_PORT: '65536' }, { METRICS_PORT: 'nine' }, { PORT: '9464' }, { PORT: '4000', METRICS_PORT: '4000' }]) {
      assert.throws(
        () => loadConfig(env),
        (err: Error) => err instanceof ConfigError && /^Invalid configuration: METRICS_PORT: [^\n]+$/.test(err.message),
      );
    }
  });

  it('When the password hashing limits are unset, then 2 hashes run at once (1 on one core) and 32 may wait; set, they are kept', () => {
    assert.deepEqual(loadConfig({}).passwordHashing, { concurrency: Math.min(2, availableParallelism()), queue: 32 });
    assert.deepEqual(loadConfig({ PASSWORD_HASH_CONCURRENCY: '3', PASSWORD_HASH_QUEUE: '0' }).passwordHashing, {
      concurrency: 3,
      queue: 0,
    });
    assert.ok(!loadConfig({}).warnings.some((w) => w.includes('PASSWORD_HASH_CONCURRENCY')));
  });

  it('When PASSWORD_HASH_CONCURRENCY takes every libuv thread, then a warning says new database connections may time out', () => {
    assert.ok(
      loadConfig({ PASSWORD_HASH_CONCURRENCY: '4' }).warnings.some((w) => /PASSWORD_HASH_CONCURRENCY=4 .*UV_THREADPOOL_SIZE=4/.test(w)),
    );
    assert.ok(
      !loadConfig({ PASSWORD_HASH_CONCURRENCY: '4', UV_THREADPOOL_SIZE: '8' }).warnings.some((w) => w.includes('UV_THREADPOOL_SIZE')),
    );
  });

  describe('Secrets published in this repository', () => {
    const EXAMPLE_SECRET = 'example-only-session-secret-replace-me-0123456789'; // k8s/10-secrets.example.yaml
    const EXAMPLE_PASSWORD = 'example-only-database-password';
    const production = { NODE_ENV: 'production', SESSION_SECRET: generatedSecret() };
    const cases: [string, string, NodeJS.ProcessEnv, string][] = [
      ['the example SESSION_SECRET', 'SESSION_SECRET', { SESSION_SECRET: EXAMPLE_SECRET }, EXAMPLE_SECRET],
      [
        'the example secret as the old one of a rotation',
        'SESSION_SECRET',
        { SESSION_SECRET: `${generatedSecret()}, ${EXAMPLE_SECRET}` },
        EXAMPLE_SECRET,
      ],
      [
        'the development secret set by hand',
        'SESSION_SECRET',
        { SESSION_SECRET: 'dev-only-insecure-session-secret-change-me!' },
        'dev-only',
      ],
      [
        'the example database password in DATABASE_URL',
        'DATABASE_URL',
        { DATABASE_URL: `postgres://app:${encodeURIComponent(EXAMPLE_PASSWORD)}@db:5432/app` },
        EXAMPLE_PASSWORD,
      ],
      ['the example database password as PGPASSWORD', 'PGPASSWORD', { PGPASSWORD: EXAMPLE_PASSWORD }, EXAMPLE_PASSWORD],
      [
        'a test fixture as SUPABASE_DB_PASSWORD',
        'SUPABASE_DB_PASSWORD',
        { SUPABASE_URL: 'https://abcdefgh.supabase.co', SUPABASE_DB_PASSWORD: 'p@ss/word', DATABASE_SSL: 'require' },
        'p@ss/word',
      ],
      [
        'the old mock provider secret as OIDC_CLIENT_SECRET',
        'OIDC_CLIENT_SECRET',
        {
          OIDC_ISSUER_URL: 'https://id.example.com',
          OIDC_CLIENT_ID: 'app',
          OIDC_CLIENT_SECRET: 'local-client-secret',
          OIDC_REDIRECT_URL: 'https://app.example.com/api/oidc/callback',
        },
        'local-client-secret',
      ],
    ];
    for (const [what, setting, env, value] of cases) {
      it(`When production is given ${what}, then it refuses with one line naming ${setting}, never the value`, () => {
        try {
          loadConfig({ ...production, ...env });
          assert.fail('accepted');
        } catch (err) {
          assert.ok(err instanceof ConfigError, String(err));
          assert.match(err.message, new RegExp(`^Invalid configuration: ${setting}: .*published in this repository`));
          assert.equal(err.message.split('\n').length, 1);
          assert.ok(!err.message.includes(value), err.message);
        }
      });
    }

    it('When a published value is used outside production, then it is accepted (tests and development use them)', () => {
      assert.doesNotThrow(() => loadConfig({ NODE_ENV: 'test', SESSION_SECRET: EXAMPLE_SECRET, PGPASSWORD: EXAMPLE_PASSWORD }));
    });

    it('When production is given generated secrets, then it starts', () => {
      assert.doesNotThrow(() =>
        loadConfig({ ...production, DATABASE_URL: `postgres://app:${generatedSecret()}@db/app`, PGPASSWORD: generatedSecret() }),
      );
    });
  });
});
