/**
 * Secret values that this repository publishes (examples, defaults, test fixtures, now or in its history): anyone can
 * read them, so production refuses them. test/published-secrets.test.ts scans the tracked files and fails when a
 * secret setting there is given a value missing from this list.
 */
import { commaList } from './comma-list.js';
const PUBLISHED = new Set([
  // k8s/10-secrets.example.yaml (applied by `kubectl apply -f k8s` until it was removed)
  'example-only-session-secret-replace-me-0123456789',
  'example-only-database-password',
  // app/config.ts: the development secret, if someone sets it by hand
  'dev-only-insecure-session-secret-change-me!',
  // app/connections/settings.ts: the development CONNECTIONS_KEY
  'ZGV2LW9ubHktY29ubmVjdGlvbnMta2V5LTMyLWJ5dGU=',
  // test fixtures, the local OpenID Connect provider's client and the Testcontainers database (made at run time since)
  'test-secret-that-is-at-least-32-characters-long',
  'old-secret-old-secret-old-secret-0001',
  'new-secret-new-secret-new-secret-0002',
  'a-generated-secret-of-at-least-32-characters',
  'generated-password',
  'local-client-secret',
  'postgres',
  'p@ss/word',
  'pw',
  // passwords of postgres:// URLs in docs and tests
  'pass',
  'p',
  'secret',
  'wrong',
]);

/** The settings that hold secrets, and how to make a good one. */
const GENERATE = { secret: 'openssl rand -base64 48', password: 'openssl rand -hex 24' };

function secretsIn(env: NodeJS.ProcessEnv): [setting: string, value: string | undefined, generate: string][] {
  let urlPassword: string | undefined;
  if (env.DATABASE_URL && URL.canParse(env.DATABASE_URL)) urlPassword = decodeURIComponent(new URL(env.DATABASE_URL).password);
  return [
    ...commaList(env.SESSION_SECRET).map((s): [string, string, string] => ['SESSION_SECRET', s, GENERATE.secret]),
    ['DATABASE_URL', urlPassword, GENERATE.password],
    ['PGPASSWORD', env.PGPASSWORD, GENERATE.password],
    ['SUPABASE_DB_PASSWORD', env.SUPABASE_DB_PASSWORD, GENERATE.password],
    ['OIDC_CLIENT_SECRET', env.OIDC_CLIENT_SECRET, 'the secret your provider issued for this client'],
    ...commaList(env.CONNECTIONS_KEY).map((s): [string, string, string] => ['CONNECTIONS_KEY', s, 'openssl rand -base64 32']),
    ...Object.keys(env)
      .filter((name) => /^CONNECTIONS_[A-Z0-9_]+_CLIENT_SECRET$/.test(name))
      .map((name): [string, string | undefined, string] => [name, env[name], 'the secret your provider issued for this client']),
  ];
}

/** A one-line reason naming the first secret setting whose value is published here (never the value), or undefined. */
export function publishedSecret(env: NodeJS.ProcessEnv): string | undefined {
  const found = secretsIn(env).find(([, value]) => value && PUBLISHED.has(value));
  if (!found) return undefined;
  const [setting, , generate] = found;
  const what = setting === 'DATABASE_URL' ? 'its password' : 'the value';
  return `${setting}: ${what} is published in this repository (an example or test value), so anyone knows it; use your own (${generate})`;
}

/** For the repository scan: is this value in the list? */
export const isPublishedSecret = (value: string): boolean => PUBLISHED.has(value);
