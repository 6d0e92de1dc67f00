/** Reads the deployment files (k8s manifests, docker-compose.yml, .env.example, Dockerfile) as data for the checks. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';

export const root = fileURLToPath(new URL('../../', import.meta.url));

/** Manifests are free-form YAML, checked field by field. */
export type Doc = Record<string, any>;

export interface Manifest {
  /** Relative to the repository root, for messages. */
  file: string;
  doc: Doc;
}

export function readText(relativePath: string): string {
  return readFileSync(join(root, relativePath), 'utf8');
}

/** Every document of every .yaml file directly in `dir` (as `kubectl apply -f dir` reads them), in name order. */
export function loadManifests(dir: string): Manifest[] {
  const files = readdirSync(join(root, dir))
    .filter((name) => name.endsWith('.yaml') || name.endsWith('.yml'))
    .sort();
  return files.flatMap((name) => {
    const file = `${dir}/${name}`;
    return parseAllDocuments(readText(file)).map((document) => {
      if (document.errors.length) throw new Error(`${file}: ${document.errors[0]!.message}`);
      return { file, doc: document.toJS() as Doc };
    });
  });
}

/** The one manifest of that kind and name; throws naming what is missing. */
export function manifest(manifests: Manifest[], kind: string, name: string): Doc {
  const found = manifests.filter((m) => m.doc.kind === kind && m.doc.metadata?.name === name);
  if (found.length !== 1) throw new Error(`expected one ${kind} named ${name}, found ${found.length}`);
  return found[0]!.doc;
}

/** "k8s/40-app.yaml Deployment/app", for messages. */
export function where(m: Manifest): string {
  return `${m.file} ${m.doc.kind}/${m.doc.metadata?.name}`;
}

/** docker-compose.yml with its YAML merge keys (<<) resolved, as compose reads it; ${...} are left as they are. */
export function loadCompose(): Doc {
  return parse(readText('docker-compose.yml'), { merge: true }) as Doc;
}

/** KEY=value lines of an env file (comments and blank lines skipped). */
export function parseEnvFile(text: string): Map<string, string> {
  const entries = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const eq = line.indexOf('=');
      return [line.slice(0, eq), line.slice(eq + 1)] as const;
    });
  return new Map(entries);
}

/** Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} in a string, resolved from `vars` the way compose does. */
export function interpolate(value: string, vars: Map<string, string>): string {
  return value.replace(/(?<!\$)\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_all, name: string, op?: string, arg?: string) => {
    const set = vars.get(name);
    if (set) return set;
    if (op === '-') return arg ?? '';
    if (op === '?') throw new Error(`compose would refuse to start: ${name} is not set (${arg})`);
    return '';
  });
}

/** Names used as ${VAR...} anywhere in a text ($${...} is an escaped dollar, not a variable). */
export function interpolatedNames(text: string): Set<string> {
  return new Set([...text.matchAll(/(?<!\$)\$\{(\w+)/g)].map((m) => m[1]!));
}
