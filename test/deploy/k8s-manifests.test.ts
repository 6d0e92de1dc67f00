/** The Kubernetes manifests, checked offline: schemas with unknown fields rejected, apply order, references between objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { where, loadManifests, manifest, root, type Doc, type Manifest } from './files.js';
import { builtinType, crdTypes, fieldChecker, objectMetaType, schemaErrors } from './k8s-schema.js';

const base = loadManifests('k8s');
const production = loadManifests('k8s/production');
const gvk = (doc: Doc) => `${doc.apiVersion}/${doc.kind}`;
const isCustom = (m: Manifest) => m.doc.apiVersion.endsWith('.cnpg.io/v1');
const builtins = [...base, ...production].filter((m) => !isCustom(m));
const checker = fieldChecker([...builtins.map((m) => builtinType(m.doc.apiVersion, m.doc.kind)), objectMetaType, ...Object.values(crdTypes)]);

async function manifestErrors(doc: Doc): Promise<string[]> {
  return [...(await schemaErrors(doc)), ...checker.errors(doc, builtinType(doc.apiVersion, doc.kind))];
}

test('When every built-in manifest in k8s/ and k8s/production/ is checked against its apiVersion and kind, none has a schema error or an unknown field', async () => {
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
  assert.ok(errors.some((e) => e.includes('containers[0].securtyContext: unknown field')), errors.join('\n'));
  assert.ok(errors.some((e) => e.includes('/spec/replicas must be integer')), errors.join('\n'));
  assert.deepEqual(await schemaErrors({ apiVersion: 'apps/v1', kind: 'Deploymnet' }), ['no schema for apiVersion apps/v1 kind Deploymnet']);
});

test('When the CloudNativePG Cluster is checked against the types generated from its CRD, it has three instances and no unknown or mistyped field', () => {
  const cluster = manifest(production, 'Cluster', 'pg');
  assert.equal(gvk(cluster), 'postgresql.cnpg.io/v1/Cluster');
  assert.deepEqual(Object.keys(cluster).sort(), ['apiVersion', 'kind', 'metadata', 'spec']);
  assert.deepEqual([...checker.errors(cluster.metadata, objectMetaType, 'metadata'), ...checker.errors(cluster.spec, crdTypes[gvk(cluster) as keyof typeof crdTypes], 'spec')], []);
  assert.equal(cluster.spec.instances, 3);

  // The same check catches a misspelt field and a value outside an enum.
  const broken = { ...cluster.spec, instancez: 3, primaryUpdateStrategy: 'whenever' };
  const errors = checker.errors(broken, crdTypes['postgresql.cnpg.io/v1/Cluster'], 'spec');
  assert.ok(errors.some((e) => e.startsWith('spec.instancez: unknown field')), errors.join('\n'));
  assert.ok(errors.some((e) => e.startsWith('spec.primaryUpdateStrategy: "whenever"')), errors.join('\n'));
});

// CloudNativePG's admission webhook refuses any PgBouncer parameter outside this list (api/v1 pooler webhook).
const allowedPgBouncerParameters = new Set(
  'application_name_add_host autodb_idle_timeout client_idle_timeout client_login_timeout default_pool_size disable_pqexec idle_transaction_timeout ignore_startup_parameters log_connections log_disconnections log_pooler_errors log_stats max_client_conn max_db_connections max_user_connections min_pool_size query_timeout query_wait_timeout reserve_pool_size reserve_pool_timeout server_check_delay server_check_query server_connect_timeout server_fast_close server_idle_timeout server_lifetime server_login_retry server_reset_query server_reset_query_always server_round_robin stats_period verbose'.split(' '),
);

test('When the PgBouncer Pooler is checked (no package ships its schema), its fields, parameters and cluster reference are valid', () => {
  const pooler = manifest(production, 'Pooler', 'pg-pooler-rw');
  const cluster = manifest(production, 'Cluster', 'pg');
  assert.equal(gvk(pooler), 'postgresql.cnpg.io/v1/Pooler');
  assert.deepEqual(checker.errors(pooler.metadata, objectMetaType, 'metadata'), []);
  const { spec } = pooler;
  assert.deepEqual(Object.keys(spec).filter((k) => !['cluster', 'instances', 'type', 'pgbouncer'].includes(k)), []);
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

test('When kubectl applies k8s/ in name order, the namespace comes first, everything else lives in it, and no kustomization.yaml is there', () => {
  assert.equal(base[0]!.doc.kind, 'Namespace');
  const namespace = base[0]!.doc.metadata.name;
  for (const m of [...base.slice(1), ...production]) assert.equal(m.doc.metadata.namespace, namespace, where(m));
  for (const name of ['kustomization.yaml', 'kustomization.yml', 'Kustomization']) assert.ok(!existsSync(join(root, 'k8s', name)), name);
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
  for (const { m, template } of podTemplates(base)) {
    for (const container of [...(template.spec.initContainers ?? []), ...template.spec.containers]) {
      for (const source of container.envFrom ?? []) {
        if (source.configMapRef) keysOf('ConfigMap', source.configMapRef.name);
        if (source.secretRef) keysOf('Secret', source.secretRef.name);
      }
      for (const { name, valueFrom } of container.env ?? []) {
        const ref = valueFrom?.configMapKeyRef ?? valueFrom?.secretKeyRef;
        if (!ref) continue;
        const kind = valueFrom.configMapKeyRef ? 'ConfigMap' : 'Secret';
        assert.ok(keysOf(kind, ref.name).has(ref.key), `${where(m)} ${container.name} ${name}: ${kind} ${ref.name} has no key ${ref.key}`);
      }
    }
    for (const volume of template.spec.volumes ?? []) if (volume.configMap) keysOf('ConfigMap', volume.configMap.name);
    // Jobs have no selector of their own.
    if (m.doc.spec.selector) assert.ok(matches(m.doc.spec.selector.matchLabels, template.metadata.labels), `${where(m)}: selector does not match its pods`);
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
        for (const peer of rule.from ?? []) if (peer.podSelector) assert.ok(selectsPods(peer.podSelector.matchLabels), `${where(m)}: a peer matches no pods`);
      }
    }
  }
  // Workloads name Secrets and ConfigMaps that the example files and k8s/production provide with the same keys.
  assert.deepEqual([...keysOf('ConfigMap', 'database')].sort(), Object.keys(manifest(production, 'ConfigMap', 'database').data).sort());
});

test('When k8s/production replaces the single Postgres, exactly the objects it replaces carry the database label', () => {
  const label = (m: Manifest) => m.doc.metadata.labels?.['app.kubernetes.io/component'];
  const replaced = base.filter((m) => label(m) === 'database').map((m) => `${m.doc.kind}/${m.doc.metadata.name}`);
  assert.deepEqual(replaced.sort(), ['ConfigMap/database', 'NetworkPolicy/postgres', 'Service/postgres', 'StatefulSet/postgres']);
  // Its ConfigMap and policies carry the label too, so `-l app.kubernetes.io/component!=database` on k8s/ leaves them alone.
  for (const m of production.filter((p) => !isCustom(p))) assert.equal(label(m), 'database', where(m));
  const cluster = manifest(production, 'Cluster', 'pg');
  assert.equal(cluster.spec.bootstrap.initdb.secret.name, 'database-credentials');
  const credentials = manifest(base, 'Secret', 'database-credentials');
  assert.equal(credentials.type, 'kubernetes.io/basic-auth', 'CloudNativePG wants a basic-auth secret for the owner');
  assert.equal(credentials.stringData.username, cluster.spec.bootstrap.initdb.owner);
  assert.equal(manifest(production, 'ConfigMap', 'database').data.dbname, cluster.spec.bootstrap.initdb.database);
  // The migration holds a session-level advisory lock: it must reach the primary directly, not PgBouncer.
  const hosts = manifest(production, 'ConfigMap', 'database').data;
  assert.equal(hosts.host, manifest(production, 'Pooler', 'pg-pooler-rw').metadata.name);
  assert.equal(hosts['migration-host'], `${cluster.metadata.name}-rw`);
});
