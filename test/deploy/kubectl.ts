/**
 * The real kubectl, run offline, for what only it can say: which objects `kubectl apply -f DIR` reads, what
 * `kubectl apply -k DIR` renders (its built-in kustomize), and what the documented `kubectl create secret` commands
 * make. Nothing here can reach a cluster: KUBECONFIG names no file, and every command is local (`kustomize`,
 * `label --local`, `create --dry-run=client`).
 */
import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { readText, root, type Doc, type Manifest } from './files.js';

const offline = { ...process.env, KUBECONFIG: '/nonexistent/express-pg-sessions-tests/kubeconfig' };

const MISSING =
  'kubectl with its built-in kustomize v5 or newer (kubectl 1.27+) is needed for the Kubernetes checks: .ci/run says how ' +
  "to get it; Debian 12's kubernetes-client (kubectl 1.20, kustomize v2.0.3) cannot render k8s-production/";

function run(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { cwd: root, env: offline, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 << 20 });
  } catch (err) {
    const { code, stderr } = err as NodeJS.ErrnoException & { stderr?: string };
    if (code === 'ENOENT') throw new Error(`${MISSING} (no kubectl on PATH)`, { cause: err });
    throw new Error(`${file} ${args.join(' ')}: ${stderr?.trim() || (err as Error).message}`, { cause: err });
  }
}

/** Throws the one-line MISSING message unless kubectl's kustomize is v5 or newer. */
export function requireKustomize5(): void {
  const { kustomizeVersion } = JSON.parse(run('kubectl', ['version', '--client', '-o', 'json'])) as { kustomizeVersion?: string };
  if (!kustomizeVersion || Number(/^v(\d+)/.exec(kustomizeVersion)?.[1]) < 5)
    throw new Error(`${MISSING} (found kustomize ${kustomizeVersion})`);
}

/** The objects of `kubectl kustomize DIR`: exactly what `kubectl apply -k DIR` sends. */
export function kustomize(dir: string): Manifest[] {
  return parseAllDocuments(run('kubectl', ['kustomize', dir])).map((d) => ({ file: `kubectl apply -k ${dir}`, doc: d.toJS() as Doc }));
}

/** The objects `kubectl apply -f DIR` reads, as kubectl's own file walk finds them (a local, label-only pass). */
export function appliedByFilename(dir: string): Manifest[] {
  const out = run('kubectl', ['label', '--local', '-f', dir, 'probe=local', '-o', 'json']).trim();
  // One pretty-printed JSON object after another.
  const docs = JSON.parse(`[${out.replace(/^}\s*\n{/gm, '},{')}]`) as Doc[];
  return docs.map((doc) => {
    delete doc.metadata.labels.probe;
    if (!Object.keys(doc.metadata.labels).length) delete doc.metadata.labels;
    return { file: `kubectl apply -f ${dir}`, doc };
  });
}

/** The shell commands of a Markdown file's code blocks that start with `kubectl `, continuation lines joined, comments cut. */
export function documentedKubectl(markdownPath: string): string[] {
  const blocks = [...readText(markdownPath).matchAll(/^```(?:bash|sh)\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
  return blocks
    .flatMap((block) => block.replace(/\\\n\s*/g, '').split('\n'))
    .map((line) => line.replace(/\s+#\s.*$/, '').trim())
    .filter((line) => line.startsWith('kubectl '));
}

/** What a documented `kubectl create secret ...` command makes, run with `--dry-run=client` (values made by its $(openssl ...)). */
function secretMadeBy(command: string): Doc {
  if (!/^kubectl (-n \S+ )?create secret /.test(command) || /[;&|`]/.test(command))
    throw new Error(`not a plain create secret command: ${command}`);
  return JSON.parse(run('bash', ['-c', `${command} --dry-run=client -o json`])) as Doc;
}

/** The Secrets that the `kubectl create secret` commands of docs/deployment.md make, in every namespace they name. */
export function documentedSecrets(): Manifest[] {
  return documentedKubectl('docs/deployment.md')
    .filter((command) => command.includes(' create secret '))
    .map((command) => ({ file: command, doc: secretMadeBy(command) }));
}
