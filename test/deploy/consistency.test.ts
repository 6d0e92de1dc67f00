/**
 * Compose, Kubernetes, nginx.conf and the app agree: environment variables the config loader knows and accepts,
 * ports, probe paths, image names and shutdown timing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { knownEnvVars, loadConfig, type Config } from '../../app/config.js';
import { NAMESPACE } from '../../infra/render-k8s-nginx.js';
import { generatedSecret } from '../../infra/replica-env.js';
import {
  interpolate,
  interpolatedNames,
  loadCompose,
  loadManifests,
  manifest,
  parseEnvFile,
  readText,
  type Doc,
  type Manifest,
} from './files.js';
import { documentedSecrets, kustomize } from './kubectl.js';

const APP_IMAGE = 'express-pg-sessions';
const base = loadManifests('k8s');
const compose = loadCompose();
const composeText = readText('docker-compose.yml');
const envExample = parseEnvFile(readText('.env.example'));
const version = (JSON.parse(readText('package.json')) as { version: string }).version;

/** .env.example as a user fills it in: the two secrets it leaves empty get values of the right shape. */
const filledEnv = new Map([...envExample, ['SESSION_SECRET', generatedSecret()], ['POSTGRES_PASSWORD', generatedSecret()]]);

function composeEnv(service: string): NodeJS.ProcessEnv {
  const env = compose.services[service].environment as Record<string, string>;
  return Object.fromEntries(Object.entries(env).map(([name, value]) => [name, interpolate(String(value), filledEnv)]));
}

/** A container's environment as the kubelet would set it, from ConfigMaps and Secrets in `manifests`. */
function k8sEnv(container: Doc, manifests: Manifest[]): NodeJS.ProcessEnv {
  const data = (kind: string, name: string) => {
    const doc = manifest(manifests, kind, name);
    // A Secret's data is base64, which the kubelet decodes.
    const decoded =
      kind === 'Secret'
        ? Object.fromEntries(Object.entries(doc.data ?? {}).map(([k, v]) => [k, Buffer.from(v as string, 'base64').toString()]))
        : doc.data;
    return { ...decoded, ...doc.stringData } as Record<string, string>;
  };
  const env: NodeJS.ProcessEnv = {};
  for (const source of container.envFrom ?? []) {
    Object.assign(env, source.configMapRef ? data('ConfigMap', source.configMapRef.name) : data('Secret', source.secretRef.name));
  }
  for (const { name, value, valueFrom } of container.env ?? []) {
    if (value !== undefined) env[name] = value;
    else if (valueFrom.configMapKeyRef) env[name] = data('ConfigMap', valueFrom.configMapKeyRef.name)[valueFrom.configMapKeyRef.key];
    else if (valueFrom.secretKeyRef) env[name] = data('Secret', valueFrom.secretKeyRef.name)[valueFrom.secretKeyRef.key];
    else if (valueFrom.fieldRef) env[name] = 'pod-name-from-the-downward-api';
  }
  return env;
}

/** Each environment as kubectl applies it, with the Secrets that the documented commands make in its namespace. */
const secretsIn = (namespace: string) => documentedSecrets().filter((m) => m.doc.metadata.namespace === namespace);
const trialManifests = [...base, ...secretsIn(NAMESPACE)];
const productionManifests = [...kustomize('k8s-production'), ...secretsIn(`${NAMESPACE}-production`)];

const appDeployment = manifest(base, 'Deployment', 'app');
const appContainer = appDeployment.spec.template.spec.containers[0];
const migrateContainer = manifest(base, 'Job', 'migrate').spec.template.spec.containers[0];
/** Every container of k8s/ that runs the app image. */
const appImageContainers = base
  .flatMap((m) => {
    const spec = m.doc.spec?.template?.spec;
    return spec ? [...(spec.initContainers ?? []), ...spec.containers] : [];
  })
  .filter((c: Doc) => c.image.startsWith(`${APP_IMAGE}:`));

test('When compose, .env.example and Kubernetes set environment variables for the app image, each is one that app/config.ts reads', () => {
  const known = new Set(knownEnvVars);
  const unknown = (names: Iterable<string>) => [...names].filter((name) => !known.has(name));
  assert.deepEqual(unknown(Object.keys(composeEnv('app'))), [], 'compose app');
  assert.deepEqual(unknown(Object.keys(composeEnv('migrate'))), [], 'compose migrate');
  assert.equal(appImageContainers.length, 2, 'the app Deployment and the migrate Job');
  for (const container of appImageContainers) {
    for (const manifests of [trialManifests, productionManifests])
      assert.deepEqual(unknown(Object.keys(k8sEnv(container, manifests))), [], container.name);
  }
  // .env.example holds the app's settings and the ${...} values of docker-compose.yml, nothing else, and all of them.
  const interpolated = interpolatedNames(composeText);
  assert.deepEqual(
    [...envExample.keys()].filter((name) => !known.has(name) && !interpolated.has(name)),
    [],
  );
  assert.deepEqual(
    [...interpolated].filter((name) => !envExample.has(name)),
    [],
  );
});

test("When the app's own config loader reads what compose and Kubernetes give the replicas and the migration, it accepts it", () => {
  const configs: [string, NodeJS.ProcessEnv][] = [
    ['compose app', composeEnv('app')],
    ['compose migrate', composeEnv('migrate')],
    ['k8s app', k8sEnv(appContainer, trialManifests)],
    ['k8s migrate', k8sEnv(migrateContainer, trialManifests)],
    ['k8s-production app', k8sEnv(appContainer, productionManifests)],
    ['k8s-production migrate', k8sEnv(migrateContainer, productionManifests)],
  ];
  for (const [where, env] of configs) assert.doesNotThrow(() => loadConfig(env), where);
  // The replicas run in production mode (strict secret checks); the migration needs no secret.
  assert.equal(loadConfig(composeEnv('app')).env, 'production');
  assert.equal(loadConfig(k8sEnv(appContainer, trialManifests)).env, 'production');
  assert.equal(composeEnv('migrate').SESSION_SECRET, undefined);
  assert.equal(k8sEnv(migrateContainer, trialManifests).SESSION_SECRET, undefined);
  // The migration reaches the primary directly (advisory lock), the app PgBouncer.
  assert.notEqual(k8sEnv(migrateContainer, productionManifests).PGHOST, k8sEnv(appContainer, productionManifests).PGHOST);
});

/** The `server ...;` lines of the marked upstream block of an nginx site config. */
function upstreamServers(site: string): string[] {
  const block = /# BEGIN upstream servers\n([\s\S]*?)# END upstream servers/.exec(site)?.[1] ?? '';
  return [...block.matchAll(/^\s*server\s+(\S+)/gm)].map((m) => m[1]!);
}

test('When ports are compared, the app, its Service, the nginx upstreams and nginx itself agree', () => {
  const appPort = loadConfig(k8sEnv(appContainer, trialManifests)).port;
  assert.equal(loadConfig(composeEnv('app')).port, appPort);
  const containerPort = appContainer.ports.find((p: Doc) => p.name === 'http');
  assert.equal(containerPort.containerPort, appPort);
  const appService = manifest(base, 'Service', 'app');
  assert.deepEqual(appService.spec.ports, [{ name: 'http', port: appPort, targetPort: 'http' }]);
  assert.equal(manifest(base, 'NetworkPolicy', 'app').spec.ingress[0].ports[0].port, appPort);
  // The metrics port the app listens on is the one Kubernetes names, annotates and lets the scrapers reach.
  const { metricsPort } = loadConfig(k8sEnv(appContainer, trialManifests));
  assert.equal(appContainer.ports.find((p: Doc) => p.name === 'metrics').containerPort, metricsPort);
  assert.equal(Number(appDeployment.spec.template.metadata.annotations['prometheus.io/port']), metricsPort);
  assert.equal(manifest(base, 'NetworkPolicy', 'app').spec.ingress[1].ports[0].port, metricsPort);

  // Compose: nginx reaches the replicas by service name; Kubernetes: by the headless Service's full DNS name.
  const template = readText('nginx.conf');
  assert.deepEqual(upstreamServers(template), [`app:${appPort}`]);
  const k8sSite = (parse(readText('k8s/50-nginx-configmap.yaml')) as Doc).data['default.conf'] as string;
  assert.equal(appService.spec.clusterIP, 'None', 'headless, so that nginx sees the pods and `resolve` follows them');
  assert.deepEqual(upstreamServers(k8sSite), [`${appService.metadata.name}.${appService.metadata.namespace}.svc.cluster.local:${appPort}`]);
  assert.equal(appService.metadata.namespace, NAMESPACE);

  const listen = Number(/# BEGIN listen\n\s*listen (\d+);/.exec(template)?.[1]);
  assert.deepEqual(compose.services.nginx.ports, [`8080:${listen}`]);
  const nginxContainer = manifest(base, 'Deployment', 'nginx').spec.template.spec.containers[0];
  assert.equal(nginxContainer.ports.find((p: Doc) => p.name === 'http').containerPort, listen);
  assert.equal(manifest(base, 'NetworkPolicy', 'nginx').spec.ingress[0].ports[0].port, listen);
  assert.equal(manifest(base, 'Service', 'nginx').spec.ports[0].targetPort, 'http');

  const postgresPort = Number(k8sEnv(appContainer, trialManifests).PGPORT);
  assert.equal(manifest(base, 'StatefulSet', 'postgres').spec.template.spec.containers[0].ports[0].containerPort, postgresPort);
  assert.equal(manifest(base, 'NetworkPolicy', 'postgres').spec.ingress[0].ports[0].port, postgresPort);
});

test('When probes are compared, startup and liveness ask the liveness path and readiness the readiness path, on the app port', () => {
  const { startupProbe, livenessProbe, readinessProbe } = appContainer;
  assert.deepEqual(startupProbe.httpGet, { path: '/healthz', port: 'http' });
  assert.deepEqual(livenessProbe.httpGet, { path: '/healthz', port: 'http' });
  assert.deepEqual(readinessProbe.httpGet, { path: '/readyz', port: 'http' });
  // Compose has no readiness: its healthcheck is the liveness check of the image.
  assert.match(compose.services.app.healthcheck.test.join(' '), /\+ '\/healthz'/);
});

test('When image names are compared, compose and Kubernetes run the same app, Postgres and nginx images, and the app is tagged with the package version', () => {
  const composeImage = (service: string) => compose.services[service].image as string;
  const podImages = (kind: string, name: string) => {
    const spec = manifest(base, kind, name).spec.template.spec;
    return [...(spec.initContainers ?? []), ...spec.containers].map((c: Doc) => c.image as string);
  };
  assert.equal(composeImage('app'), `${APP_IMAGE}:${version}`);
  assert.equal(composeImage('migrate'), composeImage('app'));
  assert.deepEqual(podImages('Job', 'migrate'), [composeImage('app')]);
  assert.deepEqual(
    podImages('Deployment', 'app'),
    [composeImage('postgres'), composeImage('app')],
    'wait-for-schema uses psql from the Postgres image',
  );
  assert.deepEqual(podImages('StatefulSet', 'postgres'), [composeImage('postgres')]);
  assert.deepEqual(podImages('Deployment', 'nginx'), [composeImage('nginx')]);
});

/** Worst case from SIGTERM to exit (app/server.ts): drain, in-flight requests, then their queries' statement timeout. */
function shutdownMs(config: Config): number {
  return config.shutdown.drainMs + config.shutdown.timeoutMs + config.database.statementTimeoutMs;
}

test('When a replica is stopped, Kubernetes and compose wait longer than its preStop sleep plus its worst-case shutdown', () => {
  const podSpec = appDeployment.spec.template.spec;
  const preStopMs = appContainer.lifecycle.preStop.sleep.seconds * 1000;
  const k8sConfig = loadConfig(k8sEnv(appContainer, trialManifests));
  assert.ok(k8sConfig.shutdown.drainMs > 0, 'a drain: readiness fails while the replica still serves');
  assert.ok(
    podSpec.terminationGracePeriodSeconds * 1000 > preStopMs + shutdownMs(k8sConfig),
    `terminationGracePeriodSeconds ${podSpec.terminationGracePeriodSeconds}`,
  );

  // Compose has no preStop: nginx forgets a stopped replica within its resolver's valid=5s, covered by the drain.
  const composeConfig = loadConfig(composeEnv('app'));
  assert.ok(composeConfig.shutdown.drainMs >= 5_000, 'drain at least as long as nginx caches DNS answers (valid=5s)');
  const grace = /^(\d+)s$/.exec(compose.services.app.stop_grace_period)?.[1];
  assert.ok(Number(grace) * 1000 > shutdownMs(composeConfig), `stop_grace_period ${compose.services.app.stop_grace_period}`);

  // Rolling updates never go below the desired count, and a new pod takes traffic only once ready.
  assert.equal(appDeployment.spec.strategy.rollingUpdate.maxUnavailable, 0);
  assert.ok(appDeployment.spec.replicas >= 3);
});

test('When replicas scale out, each one checks its connection budget for the most replicas that can run: the HPA maximum on Kubernetes, the replicas of compose', () => {
  const hpa = manifest(base, 'HorizontalPodAutoscaler', 'app');
  assert.equal(loadConfig(k8sEnv(appContainer, trialManifests)).expectedReplicas, hpa.spec.maxReplicas);
  assert.equal(loadConfig(k8sEnv(appContainer, productionManifests)).expectedReplicas, hpa.spec.maxReplicas);
  assert.equal(loadConfig(composeEnv('app')).expectedReplicas, compose.services.app.deploy.replicas);
});

test('When compose and Kubernetes run a replica, both reserve and cap the same memory, from the measured RSS', () => {
  const mib = (value: string) => Number(/^(\d+)(Mi|M)$/.exec(value)?.[1]);
  const { limits, reservations } = compose.services.app.deploy.resources;
  assert.equal(mib(limits.memory), mib(appContainer.resources.limits.memory), 'memory limit');
  assert.equal(mib(reservations.memory), mib(appContainer.resources.requests.memory), 'memory reservation and request');
  // docs/capacity.md: a replica peaked at 271 MB under mixed traffic with logins; the limit must stay above that.
  assert.ok(mib(limits.memory) > 271, `memory limit ${limits.memory} above the measured peak`);
});
