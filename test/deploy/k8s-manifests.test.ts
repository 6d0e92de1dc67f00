/** The Kubernetes manifests, checked offline: schemas with unknown fields rejected, apply order, references between objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { where, loadManifests, manifest, root, type Doc, type Manifest } from './files.js';
import { builtinType, crdTypes, fieldChecker, objectMetaType, schemaErrors } from './k8s-schema.js';

const base = loadManifests('k8s');
// k8s-production/ without its kustomization.yaml: the objects it adds to k8s/ (test/deploy/k8s-environments renders it).
const production = loadManifests('k8s-production').filter((m) => m.doc.kind !== 'Kustomization');
const gvk = (doc: Doc) => `${doc.apiVersion}/${doc.kind}`;
const isCustom = (m: Manifest) => m.doc.apiVersion.endsWith('.cnpg.io/v1');
const builtins = [...base, ...production].filter((m) => !isCustom(m));
const checker = fieldChecker([
  ...builtins.map((m) => builtinType(m.doc.apiVersion, m.doc.kind)),
  objectMetaType,
  ...Object.values(crdTypes),
]);

async function manifestErrors(doc: Doc): Promise<string[]> {
  return [...(await schemaErrors(doc)), ...checker.errors(doc, builtinType(doc.apiVersion, doc.kind))];
}

test('When every built-in manifest in k8s/ and k8s-production/ is checked against its apiVersion and kind, none has a schema error or an unknown field', async () => {
  assert.ok(builtins.length >= 20, `found only ${builtins.length} manifests`);
  const problems: string[] = [];
  for (const m of builtins) for (const error of await manifestErrors(m.doc)) problems.push(`${where(m)}: ${error}`);
  assert.deepEqual(problems, []);
});

test('When a manifest has a misspelt field, a wrong type or a kind without a schema, the check reports each', async () => {
  const deployment = structuredClone(manifest(base, 'Deployment', 'app'));
  deployment.spec.template.spec.containers[0].securtyContext = {};
  deployment.spec.replicas = '3';
  const errors = await manifestErrors(deployment);
  assert.ok(
    errors.some((e) => e.includes('containers[0].securtyContext: unknown field')),
    errors.join('\n'),
  );
  assert.ok(
    errors.some((e) => e.includes('/spec/replicas must be integer')),
    errors.join('\n'),
  );
  assert.deepEqual(await schemaErrors({ apiVersion: 'apps/v1', kind: 'Deploymnet' }), ['no schema for apiVersion apps/v1 kind Deploymnet']);
});

test('When the CloudNativePG Cluster is checked against the types generated from its CRD, it has three instances and no unknown or mistyped field', () => {
  const cluster = manifest(production, 'Cluster', 'pg');
  assert.equal(gvk(cluster), 'postgresql.cnpg.io/v1/Cluster');
  assert.deepEqual(Object.keys(cluster).sort(), ['apiVersion', 'kind', 'metadata', 'spec']);
  assert.deepEqual(
    [
      ...checker.errors(cluster.metadata, objectMetaType, 'metadata'),
      ...checker.errors(cluster.spec, crdTypes[gvk(cluster) as keyof typeof crdTypes], 'spec'),
    ],
    [],
  );
  assert.equal(cluster.spec.instances, 3);

  // The same check catches a misspelt field and a value outside an enum.
  const broken = { ...cluster.spec, instancez: 3, primaryUpdateStrategy: 'whenever' };
  const errors = checker.errors(broken, crdTypes['postgresql.cnpg.io/v1/Cluster'], 'spec');
  assert.ok(
    errors.some((e) => e.startsWith('spec.instancez: unknown field')),
    errors.join('\n'),
  );
  assert.ok(
    errors.some((e) => e.startsWith('spec.primaryUpdateStrategy: "whenever"')),
    errors.join('\n'),
  );
});

// CloudNativePG's admission webhook refuses any PgBouncer parameter outside this list (api/v1 pooler webhook).
const allowedPgBouncerParameters = new Set(
  'application_name_add_host autodb_idle_timeout client_idle_timeout client_login_timeout default_pool_size disable_pqexec idle_transaction_timeout ignore_startup_parameters log_connections log_disconnections log_pooler_errors log_stats max_client_conn max_db_connections max_user_connections min_pool_size query_timeout query_wait_timeout reserve_pool_size reserve_pool_timeout server_check_delay server_check_query server_connect_timeout server_fast_close server_idle_timeout server_lifetime server_login_retry server_reset_query server_reset_query_always server_round_robin stats_period verbose'.split(
    ' ',
  ),
);

test('When the PgBouncer Pooler is checked (no package ships its schema), its fields, parameters and cluster reference are valid', () => {
  const pooler = manifest(production, 'Pooler', 'pg-pooler-rw');
  const cluster = manifest(production, 'Cluster', 'pg');
  assert.equal(gvk(pooler), 'postgresql.cnpg.io/v1/Pooler');
  assert.deepEqual(checker.errors(pooler.metadata, objectMetaType, 'metadata'), []);
  const { spec } = pooler;
  assert.deepEqual(
    Object.keys(spec).filter((k) => !['cluster', 'instances', 'type', 'pgbouncer'].includes(k)),
    [],
  );
  assert.deepEqual(spec.cluster, { name: cluster.metadata.name });
  assert.notEqual(pooler.metadata.name, cluster.metadata.name, 'a pooler may not share its name with a cluster');
  assert.ok(Number.isInteger(spec.instances) && spec.instances >= 2, 'at least two PgBouncer pods');
  assert.equal(spec.type, 'rw');
  assert.deepEqual(Object.keys(spec.pgbouncer).sort(), ['parameters', 'poolMode']);
  assert.equal(spec.pgbouncer.poolMode, 'transaction');
  for (const [name, value] of Object.entries(spec.pgbouncer.parameters as Record<string, unknown>)) {
    assert.ok(allowedPgBouncerParameters.has(name), `${name} is not a PgBouncer parameter CloudNativePG accepts`);
    assert.equal(typeof value, 'string', `${name}: parameter values are strings`);
  }
  // node-postgres sends statement_timeout at connection start; PgBouncer refuses the connection unless told to ignore it.
  assert.match(spec.pgbouncer.parameters.ignore_startup_parameters, /(^|,)statement_timeout(,|$)/);
});

test('When kubectl applies k8s/ or k8s-production/ in name order, the namespace comes first, everything else lives in it, and k8s/ has no kustomization.yaml', () => {
  for (const manifests of [base, production]) {
    assert.equal(manifests[0]!.doc.kind, 'Namespace');
    const namespace = manifests[0]!.doc.metadata.name;
    for (const m of manifests.slice(1)) assert.equal(m.doc.metadata.namespace, namespace, where(m));
  }
  assert.notEqual(production[0]!.doc.metadata.name, base[0]!.doc.metadata.name, 'production has a namespace of its own');
  // `-f k8s` would try to apply these; k8s/Kustomization (no extension) it skips, as k8s-environments.test.ts shows with kubectl.
  for (const name of ['kustomization.yaml', 'kustomization.yml']) assert.ok(!existsSync(join(root, 'k8s', name)), name);
  assert.deepEqual(base.filter((m) => m.doc.kind === 'Kustomization' || m.doc.kind === 'Secret').map(where), []);
});

/** Every container of a workload manifest, with the pod template it belongs to. */
function podTemplates(manifests: Manifest[]): { m: Manifest; template: Doc }[] {
  return manifests.filter((m) => m.doc.spec?.template?.spec).map((m) => ({ m, template: m.doc.spec.template }));
}

const matches = (selector: Record<string, string>, labels: Record<string, string> = {}) =>
  Object.entries(selector).every(([key, value]) => labels[key] === value);

test('When objects refer to ConfigMaps, Secrets, keys and pod labels, what they refer to exists', () => {
  const keysOf = (kind: string, name: string) => {
    const doc = manifest(base, kind, name);
    return new Set(Object.keys({ ...doc.data, ...doc.stringData }));
  };
  // Secrets are made by the documented commands, not files: k8s-environments.test.ts checks their names and keys.
  for (const { m, template } of podTemplates(base)) {
    for (const container of [...(template.spec.initContainers ?? []), ...template.spec.containers]) {
      for (const source of container.envFrom ?? []) if (source.configMapRef) keysOf('ConfigMap', source.configMapRef.name);
      for (const { name, valueFrom } of container.env ?? []) {
        const ref = valueFrom?.configMapKeyRef;
        if (ref)
          assert.ok(
            keysOf('ConfigMap', ref.name).has(ref.key),
            `${where(m)} ${container.name} ${name}: ConfigMap ${ref.name} has no key ${ref.key}`,
          );
      }
    }
    for (const volume of template.spec.volumes ?? []) if (volume.configMap) keysOf('ConfigMap', volume.configMap.name);
    // Jobs have no selector of their own.
    if (m.doc.spec.selector)
      assert.ok(matches(m.doc.spec.selector.matchLabels, template.metadata.labels), `${where(m)}: selector does not match its pods`);
  }

  const podLabels = podTemplates(base).map(({ template }) => template.metadata.labels as Record<string, string>);
  const selectsPods = (selector: Record<string, string>) => podLabels.some((labels) => matches(selector, labels));
  for (const m of base) {
    const { kind, spec } = m.doc;
    if (kind === 'Service') assert.ok(selectsPods(spec.selector), `${where(m)} selects no pods`);
    if (kind === 'PodDisruptionBudget') assert.ok(selectsPods(spec.selector.matchLabels), `${where(m)} selects no pods`);
    if (kind === 'HorizontalPodAutoscaler') manifest(base, spec.scaleTargetRef.kind, spec.scaleTargetRef.name);
    if (kind === 'NetworkPolicy') {
      assert.ok(selectsPods(spec.podSelector.matchLabels), `${where(m)} selects no pods`);
      for (const rule of spec.ingress ?? []) {
        for (const peer of rule.from ?? [])
          if (peer.podSelector) assert.ok(selectsPods(peer.podSelector.matchLabels), `${where(m)}: a peer matches no pods`);
      }
    }
  }
  // k8s-production's own `database` ConfigMap has the same keys.
  assert.deepEqual([...keysOf('ConfigMap', 'database')].sort(), Object.keys(manifest(production, 'ConfigMap', 'database').data).sort());
});

test('When k8s-production replaces the single Postgres, exactly the objects it replaces carry the database label', () => {
  const label = (m: Manifest) => m.doc.metadata.labels?.['app.kubernetes.io/component'];
  const replaced = base.filter((m) => label(m) === 'database').map((m) => `${m.doc.kind}/${m.doc.metadata.name}`);
  assert.deepEqual(replaced.sort(), ['ConfigMap/database', 'NetworkPolicy/postgres', 'Service/postgres', 'StatefulSet/postgres']);
  // Its own database ConfigMap and policies carry the label too (kustomization.yaml drops only the trial's by it).
  for (const m of production.filter((p) =>
    ['ConfigMap/database', 'NetworkPolicy'].some((k) => `${p.doc.kind}/${p.doc.metadata.name}`.startsWith(k)),
  )) {
    assert.equal(label(m), 'database', where(m));
  }
  const cluster = manifest(production, 'Cluster', 'pg');
  // The same Secret as the trial's (k8s-environments.test.ts: basic-auth, its user the owner).
  assert.equal(cluster.spec.bootstrap.initdb.secret.name, 'database-credentials');
  assert.equal(manifest(production, 'ConfigMap', 'database').data.dbname, cluster.spec.bootstrap.initdb.database);
  // The migration holds a session-level advisory lock: it must reach the primary directly, not PgBouncer.
  const hosts = manifest(production, 'ConfigMap', 'database').data;
  assert.equal(hosts.host, manifest(production, 'Pooler', 'pg-pooler-rw').metadata.name);
  assert.equal(hosts['migration-host'], `${cluster.metadata.name}-rw`);
});

test('When Prometheus scrapes a replica, it finds the metrics port by name and annotation, and the policy admits it there from labelled namespaces only', () => {
  const template = manifest(base, 'Deployment', 'app').spec.template;
  const ports = template.spec.containers[0].ports;
  assert.deepEqual(
    ports.find((p: Doc) => p.name === 'metrics'),
    { name: 'metrics', containerPort: 9464 },
  );
  assert.deepEqual(template.metadata.annotations, {
    'prometheus.io/scrape': 'true',
    'prometheus.io/port': '9464',
    'prometheus.io/path': '/metrics',
  });
  // nginx on the app port, the scrapers on the metrics port, nothing else.
  assert.deepEqual(manifest(base, 'NetworkPolicy', 'app').spec.ingress, [
    { from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'nginx' } } }], ports: [{ protocol: 'TCP', port: 3000 }] },
    {
      from: [{ namespaceSelector: { matchLabels: { 'express-pg-sessions/scrape-metrics': 'true' } } }],
      ports: [{ protocol: 'TCP', port: 9464 }],
    },
  ]);
  // Neither Service offers the metrics port: it is reached per pod.
  for (const name of ['app', 'nginx'])
    assert.deepEqual(
      manifest(base, 'Service', name).spec.ports.map((p: Doc) => p.name),
      ['http'],
    );
});
