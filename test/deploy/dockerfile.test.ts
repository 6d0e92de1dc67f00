/**
 * The Dockerfile, checked without a container engine: lint, structure, and agreement with the app, compose and
 * Kubernetes. Building and running the image needs Docker (docs/deployment.md says what was verified where).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { loadConfig } from '../../app/config.js';
import { REPLICA_MALLOC_ENV } from '../../infra/cluster.js';
import { loadCompose, loadManifests, manifest, readText } from './files.js';

const text = readText('Dockerfile');
const dockerfile = DockerfileParser.parse(text);
const instructions = dockerfile.getInstructions();
const finalStageStart = instructions.lastIndexOf(dockerfile.getFROMs().at(-1)!);
const finalStage = instructions.slice(finalStageStart);
const all = (list: Instruction[], keyword: string) => list.filter((i) => i.getKeyword() === keyword);
const one = (list: Instruction[], keyword: string) => {
  const found = all(list, keyword);
  assert.equal(found.length, 1, `one ${keyword}`);
  return found[0]!;
};
const json = (instruction: Instruction) =>
  (instruction as unknown as { getJSONStrings(): { getJSONValue(): string }[] }).getJSONStrings().map((s) => s.getJSONValue());

test('When the Dockerfile is linted (dockerfile-utils, the checks of the VS Code Docker extension), it has no problem', () => {
  assert.deepEqual(
    validate(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`),
    [],
  );
});

test('When the image is built, every stage starts from one current Node LTS slim image and the last one ships compiled JavaScript with production dependencies', () => {
  const nodeImage = /^NODE_IMAGE=node:(\d+)-slim$/.exec(one(instructions, 'ARG').getArgumentsContent() ?? '');
  assert.ok(nodeImage, 'ARG NODE_IMAGE=node:<major>-slim');
  const engines = (JSON.parse(readText('package.json')) as { engines: { node: string } }).engines.node;
  assert.ok(Number(nodeImage[1]) >= Number(/\d+/.exec(engines)![0]), `node ${nodeImage[1]} satisfies engines ${engines}`);
  // CI and the figures in the README run on .nvmrc's Node: it must be the one the image ships.
  assert.equal(readText('.nvmrc').trim(), nodeImage[1], ".nvmrc names the image's Node major");
  assert.ok(dockerfile.getFROMs().length >= 2, 'multi-stage');
  for (const from of dockerfile.getFROMs()) assert.equal(from.getImage(), '${NODE_IMAGE}');

  assert.ok(
    all(instructions, 'RUN').some((run) => /npm ci --omit=dev\b/.test(run.getArgumentsContent() ?? '')),
    'npm ci --omit=dev',
  );
  assert.ok(
    all(instructions, 'RUN').some((run) => run.getArgumentsContent() === 'npm run build'),
    'compiled with npm run build',
  );
  // The last stage gets node_modules and dist/ from earlier stages: no TypeScript sources, no dev dependencies.
  const copies = all(finalStage, 'COPY').map((c) => c.getArgumentsContent());
  assert.deepEqual(copies, ['package.json ./', '/app/node_modules ./node_modules', '/app/dist ./dist']);
});

test('When the container starts, tini is PID 1, node runs the compiled server directly, and not as root', () => {
  assert.deepEqual(json(one(finalStage, 'ENTRYPOINT')), ['/usr/bin/tini', '--']);
  assert.deepEqual(json(one(finalStage, 'CMD')), ['node', 'dist/app/server.js']);
  assert.equal(one(finalStage, 'USER').getArgumentsContent(), 'node');
  // The migration runs from the same image with another command.
  const migrate = ['node', 'dist/infra/migrate.js'];
  assert.deepEqual(loadCompose().services.migrate.command, migrate);
  assert.deepEqual(manifest(loadManifests('k8s'), 'Job', 'migrate').spec.template.spec.containers[0].command, migrate);
});

test('When the image checks its own health, it asks the liveness path on PORT with node, as compose and the Kubernetes liveness probe do', () => {
  const healthcheck = one(finalStage, 'HEALTHCHECK').getArgumentsContent() ?? '';
  assert.match(healthcheck, /^CMD \["node", "-e", /);
  const command = /CMD (\[.*\])$/.exec(healthcheck)![1]!;
  assert.deepEqual(
    ['CMD', ...(JSON.parse(command) as string[])],
    loadCompose().services.app.healthcheck.test,
    'compose runs the same check',
  );
  const liveness = manifest(loadManifests('k8s'), 'Deployment', 'app').spec.template.spec.containers[0].livenessProbe.httpGet.path;
  assert.ok(command.includes(`'${liveness}'`), `HEALTHCHECK asks ${liveness}`);
  assert.equal(Number(one(finalStage, 'EXPOSE').getArgumentsContent()), loadConfig({}).port, 'EXPOSE is the default PORT');
});

test('When the build context is sent, .dockerignore lets through exactly what the Dockerfile copies from it', () => {
  const allowed = readText('.dockerignore')
    .split('\n')
    .filter((line) => line.startsWith('!'))
    .map((line) => line.slice(1));
  assert.ok(readText('.dockerignore').split('\n').includes('*'), 'everything else is left out');
  const fromContext = all(instructions, 'COPY')
    .filter((copy) => !(copy as unknown as { getFromFlag(): unknown }).getFromFlag())
    .flatMap((copy) =>
      copy
        .getArguments()
        .slice(0, -1)
        .map((arg) => arg.getValue()),
    );
  assert.deepEqual([...new Set(fromContext)].sort(), [...allowed].sort());
});

test('When the image runs a replica, glibc keeps scrypt buffers out of its heap with the same fixed mmap threshold as npm start', () => {
  const env = all(finalStage, 'ENV').map((e) => e.getArgumentsContent());
  for (const [name, value] of Object.entries(REPLICA_MALLOC_ENV)) assert.ok(env.includes(`${name}=${value}`), `ENV ${name}=${value}`);
});
