/**
 * Production refuses every secret value the repository publishes (app/published-secrets.ts). This scan of the tracked
 * files keeps that list complete: a new example, default or fixture value for a secret setting fails it until listed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isPublishedSecret } from '../app/published-secrets.js';
import { root } from './deploy/files.js';

interface Found {
  where: string;
  setting: string;
  value: string;
}

const CODE = /\.(ts|js|mjs|cjs)$/;
// A secret setting, or a constant named like one (TEST_SECRET); `password:` is the key of a Kubernetes basic-auth Secret.
// The rest of the line is looked at, not consumed, so that a second assignment on the same line is found too.
const ASSIGNMENT = /(?<!\$\{)\b([A-Z][A-Z0-9_]*(?:SECRET|PASSWORD)|(?<=^\s*)password)\b['"]?\s*[=:][ \t]*(?=(.*)$)/gm;
const URL_PASSWORD = /postgres(?:ql)?:\/\/[^:/@\s'"`]+:([^@\s'"`]+)@/g;
// SESSION_SECRET values under 32 characters are refused in production anyway (e.g. the docs' `SESSION_SECRET=NEW,OLD`).
const MIN_SESSION_SECRET = 32;

/** The literal value at the start of `rest`, or undefined when it is computed, interpolated or a placeholder. */
function literal(rest: string, code: boolean): string | undefined {
  const quoted = /^(['"`])(.*?)\1(?=\s*($|[,;)}\]|]))/.exec(rest);
  if (quoted) return quoted[1] === '`' && quoted[2]!.includes('${') ? undefined : quoted[2];
  if (code) return undefined; // an identifier or expression, not a value written here
  const token = /^[^\s'"`#|]+/.exec(rest)?.[0];
  // Shell and compose interpolation ($...), placeholders (<...>), a sed pattern (.*).
  return token && !/^[$<]|\*/.test(token) ? token : undefined;
}

function secretValues(text: string, file: string): Found[] {
  const code = CODE.test(file);
  const lineOf = (index: number) => text.slice(0, index).split('\n').length;
  const found: Found[] = [];
  for (const m of text.matchAll(ASSIGNMENT)) {
    const [, setting, rest] = m as unknown as [string, string, string];
    const value = literal(rest, code);
    if (!value) continue;
    const sessionLike = setting.endsWith('SECRET') && setting !== 'OIDC_CLIENT_SECRET';
    const values = sessionLike
      ? value
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length >= MIN_SESSION_SECRET)
      : [value];
    for (const v of values) found.push({ where: `${file}:${lineOf(m.index)}`, setting, value: v });
  }
  for (const m of text.matchAll(URL_PASSWORD)) {
    if (!m[1]!.includes('$'))
      found.push({ where: `${file}:${lineOf(m.index)}`, setting: 'password in a postgres:// URL', value: decodeURIComponent(m[1]!) });
  }
  return found;
}

function trackedTextFiles(): { file: string; text: string }[] {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
  return files.flatMap((file) => {
    let text: string;
    try {
      text = readFileSync(join(root, file), 'utf8');
    } catch {
      return []; // deleted in the working tree
    }
    return text.includes('\0') ? [] : [{ file, text }];
  });
}

test('When the tracked files give a secret setting a value, that value is in the list production refuses', () => {
  const found = trackedTextFiles().flatMap(({ file, text }) => secretValues(text, file));
  assert.ok(found.length >= 5, `the scan finds the known values (${found.length})`);
  const unlisted = found.filter((f) => !isPublishedSecret(f.value)).map((f) => `${f.where} ${f.setting}`);
  assert.deepEqual(unlisted, [], 'add these values to app/published-secrets.ts (or generate them at run time)');
});

test('When a new example value is written, the scan names it, and leaves out interpolations, commands and code expressions', () => {
  const env = [
    'POSTGRES_PASSWORD=hunter2-example',
    'SESSION_SECRET=${SESSION_SECRET:?set SESSION_SECRET in .env}',
    'PGPASSWORD=$(openssl rand -hex 24)',
    'SESSION_SECRET=NEW,OLD',
  ].join('\n');
  assert.deepEqual(
    secretValues(env, '.env.example').map((f) => f.value),
    ['hunter2-example'],
  );
  const yaml = 'stringData:\n  password: another-example-password\n  SESSION_SECRET: "an-example-session-secret-of-40-characters"\n';
  assert.deepEqual(
    secretValues(yaml, 'k8s/secret.yaml').map((f) => f.value),
    ['another-example-password', 'an-example-session-secret-of-40-characters'],
  );
  // Listed values, so that this file passes its own scan.
  const ts =
    "const env = { SESSION_SECRET: TEST_SECRET, OIDC_CLIENT_SECRET: 'local-client-secret' };\nconst url = 'postgres://app:secret@db/app';\nconst other = `postgres://app:${password}@db/app`;";
  assert.deepEqual(
    secretValues(ts, 'x.ts').map((f) => f.value),
    ['local-client-secret', 'secret'],
  );
});
