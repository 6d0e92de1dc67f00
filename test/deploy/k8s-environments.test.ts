/**
 * The two Kubernetes environments as kubectl itself sees them (offline): the trial (`kubectl apply -f k8s`) and
 * production (`kubectl apply -k k8s-production`), the secrets the documented commands create, and the README's
 * commands against the documented ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manifest, where, type Doc, type Manifest } from './files.js';
import { appliedByFilename, documentedKubectl, documentedSecrets, kustomize, requireKustomize5 } from './kubectl.js';

requireKustomize5();
const trial = appliedByFilename('k8s');
const production = kustomize('k8s-production');
const TRIAL_NS = 'pg-sessions';
const PRODUCTION_NS = 'pg-sessions-production';

const id = ({ doc }: Manifest) => `${doc.kind}/${doc.metadata.namespace ?? ''}/${doc.metadata.name}`;
const byId = (manifests: Manifest[]) => [...manifests].sort((a, b) => id(a).localeCompare(id(b)));
const podSpecs = (manifests: Manifest[]) =>
  manifests.filter((m) => m.doc.spec?.template?.spec).map((m) => ({ m, spec: m.doc.spec.template.spec as Doc }));
const containersOf = (spec: Doc): Doc[] => [...(spec.initContainers ?? []), ...spec.containers];

test('When kubectl reads k8s/ with -f, it finds exactly what `kubectl apply -k k8s` renders: k8s/Kustomization is skipped and lists every file', () => {
  assert.ok(trial.length >= 15, `kubectl read only ${trial.length} objects`);
  assert.deepEqual(
    byId(trial).map((m) => m.doc),
    byId(kustomize('k8s')).map((m) => m.doc),
  );
});

test('When production is rendered, it has no single-pod Postgres and every pod reaches the CloudNativePG cluster: the app through the Pooler, the migration through the primary', () => {
  const names = production.map((m) => `${m.doc.kind}/${m.doc.metadata.name}`);
  for (const gone of ['StatefulSet/postgres', 'Service/postgres', 'NetworkPolicy/postgres'])
    assert.ok(!names.includes(gone), `${gone} is rendered`);
  assert.deepEqual(production.filter((m) => m.doc.kind === 'StatefulSet').map(where), []);

  const cluster = manifest(production, 'Cluster', 'pg');
  const pooler = manifest(production, 'Pooler', 'pg-pooler-rw');
  assert.deepEqual([pooler.spec.cluster.name, pooler.spec.type], [cluster.metadata.name, 'rw']);
  // CloudNativePG names the primary's Service <cluster>-rw and a Pooler's Service after the Pooler.
  const primary = `${cluster.metadata.name}-rw`;
  const database = manifest(production, 'ConfigMap', 'database').data as Record<string, string>;
  const hostOf = (container: Doc) => {
    const ref = container.env?.find((e: Doc) => e.name === 'PGHOST')?.valueFrom?.configMapKeyRef;
    assert.equal(ref?.name, 'database', `${container.name}: PGHOST from the database ConfigMap`);
    return database[ref.key];
  };
  const hosts = podSpecs(production).flatMap(({ m, spec }) =>
    containersOf(spec)
      .filter((c) => c.env?.some((e: Doc) => e.name.startsWith('PG')))
      .map((c) => `${m.doc.kind}/${m.doc.metadata.name} ${c.name} -> ${hostOf(c)}`),
  );
  assert.deepEqual(hosts.sort(), [
    `Deployment/app app -> ${pooler.metadata.name}`,
    `Deployment/app wait-for-schema -> ${pooler.metadata.name}`,
    `Job/migrate migrate -> ${primary}`,
  ]);

  // nginx balances over this namespace's app pods, not the trial's.
  const site = manifest(production, 'ConfigMap', 'nginx-site').data['default.conf'] as string;
  assert.match(site, new RegExp(`server app\\.${PRODUCTION_NS}\\.svc\\.cluster\\.local:3000 resolve`));
  assert.doesNotMatch(site, new RegExp(`\\.${TRIAL_NS}\\.svc`));
  // The same app policy, metrics scrape included.
  assert.deepEqual(manifest(production, 'NetworkPolicy', 'app').spec, manifest(trial, 'NetworkPolicy', 'app').spec);
});

test('When both environments are applied to one cluster, they share no object, so neither command can change the other', () => {
  assert.deepEqual(trial.filter((m) => m.doc.metadata.namespace !== TRIAL_NS && m.doc.kind !== 'Namespace').map(where), []);
  assert.deepEqual(production.filter((m) => m.doc.metadata.namespace !== PRODUCTION_NS && m.doc.kind !== 'Namespace').map(where), []);
  const namespaces = (manifests: Manifest[]) => manifests.filter((m) => m.doc.kind === 'Namespace').map((m) => m.doc.metadata.name);
  assert.deepEqual([namespaces(trial), namespaces(production)], [[TRIAL_NS], [PRODUCTION_NS]]);
  const trialIds = new Set(trial.map(id));
  assert.deepEqual(
    production.map(id).filter((i) => trialIds.has(i)),
    [],
  );
  // The same Pod Security enforcement in both.
  assert.deepEqual(
    manifest(production, 'Namespace', PRODUCTION_NS).metadata.labels,
    manifest(trial, 'Namespace', TRIAL_NS).metadata.labels,
  );
});

test('When either environment is applied again, no Secret is among its objects, so real secrets are never overwritten', () => {
  assert.deepEqual([...trial, ...production].filter((m) => m.doc.kind === 'Secret').map(where), []);
});

const docsCommands = documentedKubectl('docs/deployment.md');

test('When the documented `kubectl create secret` commands run (dry run), each environment gets every Secret and key its pods read, with generated values', () => {
  const commands = docsCommands.filter((c) => c.includes(' create secret '));
  // Every value but the user name comes from openssl: no example value to copy.
  const literals = commands
    .flatMap((c) => [...c.matchAll(/--from-literal=([^=\s]+)=("[^"]*"|\S+)/g)])
    .filter(([, key]) => key !== 'username');
  assert.ok(literals.length >= 4 && literals.every(([, , value]) => value!.startsWith('"$(openssl rand ')), commands.join('\n'));
  const made = documentedSecrets().map((m) => m.doc);
  const again = documentedSecrets().map((m) => m.doc);
  for (const [environment, namespace, objects] of [
    ['trial', TRIAL_NS, trial],
    ['production', PRODUCTION_NS, production],
  ] as const) {
    const secrets = made.filter((s) => s.metadata.namespace === namespace);
    const keys = (name: string) => Object.keys(secrets.find((s) => s.metadata.name === name)?.data ?? {});
    for (const { m, spec } of podSpecs(objects)) {
      for (const container of containersOf(spec)) {
        for (const source of container.envFrom ?? [])
          if (source.secretRef)
            assert.ok(keys(source.secretRef.name).length, `${environment}: no documented Secret ${source.secretRef.name}`);
        for (const { name, valueFrom } of container.env ?? []) {
          const ref = valueFrom?.secretKeyRef;
          if (ref)
            assert.ok(
              keys(ref.name).includes(ref.key),
              `${environment} ${where(m)} ${container.name} ${name}: no documented ${ref.name}/${ref.key}`,
            );
        }
      }
    }
    assert.deepEqual(secrets.map((s) => s.metadata.name).sort(), ['app-secrets', 'database-credentials'], environment);
  }
  // CloudNativePG bootstraps its owner role from a basic-auth Secret whose user is the owner.
  const cluster = manifest(production, 'Cluster', 'pg');
  const credentials = made.find(
    (s) => s.metadata.namespace === PRODUCTION_NS && s.metadata.name === cluster.spec.bootstrap.initdb.secret.name,
  )!;
  assert.equal(credentials.type, 'kubernetes.io/basic-auth');
  assert.equal(Buffer.from(credentials.data.username, 'base64').toString(), cluster.spec.bootstrap.initdb.owner);
  // Generated, not fixed: a second run makes other values.
  made.forEach((secret, i) =>
    assert.notDeepEqual(secret.data, again[i]!.data, `${secret.metadata.name} in ${secret.metadata.namespace} has fixed values`),
  );
});

test('When the docs and the README say `kubectl apply`, it is one of the commands checked here, and the README uses only documented kubectl commands', () => {
  const checked = [
    'kubectl apply -f k8s',
    'kubectl apply -k k8s-production',
    'kubectl apply -f k8s/00-namespace.yaml',
    'kubectl apply -f k8s-production/00-namespace.yaml',
  ];
  const applies = docsCommands.filter((c) => c.startsWith('kubectl apply ') && !c.includes('--server-side'));
  assert.deepEqual(
    [...new Set(applies)].filter((c) => !checked.includes(c)),
    [],
  );
  for (const command of checked) assert.ok(applies.includes(command), `docs/deployment.md does not document ${command}`);
  const readme = documentedKubectl('README.md');
  assert.ok(readme.includes('kubectl apply -f k8s') && readme.includes('kubectl apply -k k8s-production'), readme.join('\n'));
  assert.deepEqual(
    readme.filter((c) => !docsCommands.includes(c)),
    [],
  );
});
