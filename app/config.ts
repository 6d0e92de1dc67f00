/**
 * Configuration, read once from the environment and validated with zod (https://zod.dev).
 * A bad or missing setting throws ConfigError, whose message is one line naming the setting.
 */
import { availableParallelism, hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { publishedSecret } from './published-secrets.js';
import { commaList } from './comma-list.js';
import { connectionsEnvVars, readConnections, type ConnectionsConfig } from './connections/settings.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const DAY_SECONDS = 24 * 60 * 60;
const DEV_SECRET = 'dev-only-insecure-session-secret-change-me!';

const optionalInt = (min: number, max: number) =>
  z.coerce.number({ error: 'must be a whole number' }).int('must be a whole number').min(min).max(max).optional();
const int = (min: number, max: number, fallback: number) => optionalInt(min, max).default(fallback);

/**
 * A touch moves the stored expiry by at least this much, by default: late by at most 1 % of the session's life (and
 * at most an hour), an active session costs one row write per hour instead of one per request.
 */
const defaultTouchAfterSeconds = (maxAgeSeconds: number) => Math.min(3600, Math.floor(maxAgeSeconds / 100));

/**
 * scrypt hashes at once per replica, by default: 2, or 1 on a single core. Each holds 16 MB (N=16384, r=8) and one of
 * libuv's 4 threads for about 50 ms of CPU. Two keep a 2-core replica busy while leaving 2 threads to what else
 * queues there: pg's SCRAM handshake for a new connection (WebCrypto PBKDF2, several jobs), DNS lookups, file reads.
 * With 4 at once those wait behind every queued hash, and a login storm turned into PG_CONNECT_TIMEOUT_MS 503s.
 */
const defaultHashConcurrency = () => Math.min(2, availableParallelism());
/** libuv's thread pool (UV_THREADPOOL_SIZE, default 4), which scrypt, WebCrypto and dns.lookup share. */
const threadPoolSize = (env: NodeJS.ProcessEnv) => Number(env.UV_THREADPOOL_SIZE) || 4;

const sslModes = ['disable', 'require', 'verify-full'] as const;

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
    HOST: z.string().min(1).default('0.0.0.0'),
    PORT: int(0, 65535, 3000),
    // Prometheus scrapes this port, never the app port (which nginx makes public); 0 turns the metrics server off.
    METRICS_PORT: int(0, 65535, 9464),
    INSTANCE_ID: z.string().min(1).max(100).optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    TRUST_PROXY_HOPS: int(0, 10, 1),

    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\/.+/, 'must be a postgres:// URL')
      .optional(),
    SUPABASE_URL: z
      .string()
      .regex(/^https:\/\/[a-z0-9-]+\.supabase\.co\/?$/, 'must look like https://<project-ref>.supabase.co')
      .optional(),
    SUPABASE_DB_PASSWORD: z.string().min(1).optional(),
    DATABASE_SSL: z.enum(sslModes).optional(),
    DATABASE_SSL_CA: z.string().min(1).optional(),
    PG_POOL_MAX: int(1, 1000, 10),
    PG_CONNECT_TIMEOUT_MS: int(100, 60_000, 2_000),
    PG_IDLE_TIMEOUT_MS: int(1_000, 3_600_000, 10_000),
    PG_STATEMENT_TIMEOUT_MS: int(100, 600_000, 5_000),
    // How many replicas share the database at most, for the startup check of PG_POOL_MAX against max_connections.
    EXPECTED_REPLICAS: int(1, 10_000, 3),
    // How long a replica waits at startup for the migration its build needs before it exits.
    SCHEMA_WAIT_SECONDS: int(0, 3_600, 60),

    SESSION_STORE: z.enum(['postgres', 'memory']).default('postgres'),
    SESSION_SECRET: z.string().optional(),
    SESSION_MAX_AGE_SECONDS: int(60, 400 * DAY_SECONDS, 30 * DAY_SECONDS),
    SESSION_COOKIE_NAME: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/, 'must be a plain cookie name')
      .default('sid'),
    SESSION_TOUCH_AFTER_SECONDS: optionalInt(0, DAY_SECONDS),
    SESSION_PRUNE_INTERVAL_SECONDS: int(1, 7 * DAY_SECONDS, 15 * 60),
    SESSION_PRUNE_BATCH_SIZE: int(1, 100_000, 1_000),
    // This app's own sessions take about 300 bytes, 500 with a sign-in pending.
    SESSION_MAX_BYTES: int(256, 1_048_576, 4_096),

    PASSWORD_SCRYPT_COST: int(1024, 1_048_576, 16_384).refine((n) => (n & (n - 1)) === 0, 'must be a power of 2'),
    PASSWORD_HASH_CONCURRENCY: optionalInt(1, 64),
    // Hashes waiting for a slot; one more gets 503 + Retry-After. 32 wait at most about 32 / 2 × 50 ms ≈ 0.8 s.
    PASSWORD_HASH_QUEUE: int(0, 10_000, 32),

    LOGIN_THROTTLE_WINDOW_SECONDS: int(1, DAY_SECONDS, 15 * 60),
    LOGIN_MAX_FAILURES_PER_USER: int(1, 1_000_000, 5),
    LOGIN_MAX_FAILURES_PER_IP: int(1, 1_000_000, 50),

    SHUTDOWN_DRAIN_MS: int(0, 120_000, 5_000),
    SHUTDOWN_TIMEOUT_MS: int(0, 120_000, 10_000),

    OIDC_ISSUER_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    OIDC_CLIENT_ID: z.string().min(1).optional(),
    OIDC_CLIENT_SECRET: z.string().min(1).optional(),
    OIDC_REDIRECT_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  })
  .superRefine((env, ctx) => {
    const production = env.NODE_ENV === 'production';
    const secrets = commaList(env.SESSION_SECRET);
    if (production && secrets.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['SESSION_SECRET'], message: 'is required in production' });
    }
    if (production && secrets.some((s) => s.length < 32)) {
      ctx.addIssue({
        code: 'custom',
        path: ['SESSION_SECRET'],
        message: 'every secret must be at least 32 characters in production',
      });
    }
    if (production && env.SESSION_STORE === 'memory') {
      ctx.addIssue({
        code: 'custom',
        path: ['SESSION_STORE'],
        message: 'memory is not allowed in production: sessions would be lost on restart and not shared',
      });
    }
    if (env.SESSION_TOUCH_AFTER_SECONDS !== undefined && env.SESSION_TOUCH_AFTER_SECONDS >= env.SESSION_MAX_AGE_SECONDS) {
      // A session used only within that window would never be extended and would expire while in use.
      ctx.addIssue({ code: 'custom', path: ['SESSION_TOUCH_AFTER_SECONDS'], message: 'must be less than SESSION_MAX_AGE_SECONDS' });
    }
    if (env.SUPABASE_URL && !env.SUPABASE_DB_PASSWORD && !env.DATABASE_URL) {
      ctx.addIssue({ code: 'custom', path: ['SUPABASE_DB_PASSWORD'], message: 'is required with SUPABASE_URL' });
    }
    if (env.DATABASE_SSL === 'verify-full' && !env.DATABASE_SSL_CA) {
      ctx.addIssue({ code: 'custom', path: ['DATABASE_SSL_CA'], message: 'is required with DATABASE_SSL=verify-full' });
    }
    if (env.METRICS_PORT !== 0 && env.METRICS_PORT === env.PORT) {
      ctx.addIssue({ code: 'custom', path: ['METRICS_PORT'], message: 'must differ from PORT (metrics are served apart from the app)' });
    }
    checkOidc(env, ctx);
  });

const oidcVars = ['OIDC_ISSUER_URL', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'OIDC_REDIRECT_URL'] as const;
const LOOPBACK = /^(127(\.\d+){3}|localhost|\[::1\])$/;

/** OIDC sign-in is configured by all four OIDC_* settings or by none. */
function checkOidc(env: Partial<Record<(typeof oidcVars)[number], string>>, ctx: z.RefinementCtx): void {
  const given = oidcVars.filter((name) => env[name]);
  const missing = oidcVars.find((name) => !env[name]);
  if (given.length > 0 && missing) {
    ctx.addIssue({
      code: 'custom',
      path: [missing],
      message: `is required with ${given[0]} (OIDC sign-in needs all four OIDC_* settings, or none)`,
    });
    return;
  }
  // None given, or a URL that its own field check already reports.
  if (given.length === 0 || !URL.canParse(env.OIDC_ISSUER_URL!) || !URL.canParse(env.OIDC_REDIRECT_URL!)) return;
  const issuer = new URL(env.OIDC_ISSUER_URL!);
  // Discovery and token requests over plain HTTP only for a provider on this machine (npm start -- --oidc-mock).
  if (issuer.protocol === 'http:' && !LOOPBACK.test(issuer.hostname)) {
    ctx.addIssue({
      code: 'custom',
      path: ['OIDC_ISSUER_URL'],
      message: 'must be https (plain http only for a provider on 127.0.0.1 or localhost)',
    });
  }
  if (new URL(env.OIDC_REDIRECT_URL!).pathname !== '/api/oidc/callback') {
    ctx.addIssue({
      code: 'custom',
      path: ['OIDC_REDIRECT_URL'],
      message: 'must end in /api/oidc/callback, e.g. https://app.example.com/api/oidc/callback',
    });
  }
}

export type SslMode = (typeof sslModes)[number];

export interface DatabaseConfig {
  /** Undefined means pg reads the PG* variables (PGHOST, PGUSER, ...) itself. */
  connectionString?: string;
  ssl: { mode: SslMode; ca?: string };
  poolMax: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  statementTimeoutMs: number;
}

export interface OidcConfig {
  issuerUrl: string;
  clientId: string;
  clientSecret: string;
  /** Registered at the provider; the same for every replica (the callback may land on any of them). */
  redirectUrl: string;
}

export interface Config {
  env: 'development' | 'test' | 'production';
  host: string;
  port: number;
  /** Where GET /metrics is served, on `host`; undefined when METRICS_PORT=0 (no metrics server). */
  metricsPort?: number;
  instanceId: string;
  logLevel: string;
  trustProxyHops: number;
  database: DatabaseConfig;
  session: {
    store: 'postgres' | 'memory';
    /** First signs new cookies, all verify: add the new secret in front to rotate. */
    secrets: string[];
    maxAgeMs: number;
    cookieName: string;
    /** A touch is written only when it moves the stored expiry by at least this much; 0 writes every touch. */
    touchAfterMs: number;
    /** One replica of the fleet deletes expired sessions per interval, in batches. */
    prune: { intervalMs: number; batchSize: number };
    /** Largest session JSON (UTF-8 bytes) the store writes; a larger one is refused with a 413. */
    maxBytes: number;
  };
  /** scrypt N for new password hashes; stored hashes carry their own, so changing it never locks anyone out. */
  passwordScryptCost: number;
  /** Password hashes at once per replica, and how many may wait for a slot before the answer is 503 (app/passwords.ts). */
  passwordHashing: { concurrency: number; queue: number };
  loginThrottle: { windowSeconds: number; maxPerUser: number; maxPerIp: number };
  shutdown: { drainMs: number; timeoutMs: number };
  /** Replicas sharing the database at most (EXPECTED_REPLICAS): replicas × PG_POOL_MAX is checked against max_connections. */
  expectedReplicas: number;
  /** How long startup waits for the migration this build needs (app/schema-version.ts). */
  schemaWaitMs: number;
  /** OpenID Connect sign-in; undefined when not configured. */
  oidc?: OidcConfig;
  /** OAuth 2.0 account connections (app/connections/settings.ts); no providers when none is configured. */
  connections: ConnectionsConfig;
  /** Non-fatal problems to log at startup. */
  warnings: string[];
}

/** sslmode in DATABASE_URL is honoured as the default, then removed so pg does not apply its own reading. */
function splitSslMode(url: string): { url: string; sslmode?: string } {
  const parsed = new URL(url);
  const sslmode = parsed.searchParams.get('sslmode') ?? undefined;
  for (const key of ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'uselibpqcompat']) parsed.searchParams.delete(key);
  return { url: parsed.toString(), sslmode };
}

function supabaseUrl(projectUrl: string, password: string): string {
  const ref = new URL(projectUrl).hostname.split('.')[0];
  return `postgres://postgres:${encodeURIComponent(password)}@db.${ref}.supabase.co:5432/postgres`;
}

function resolveDatabase(env: z.infer<typeof schema>, warnings: string[]): DatabaseConfig {
  let connectionString: string | undefined;
  let urlSslMode: string | undefined;
  let defaultMode: SslMode = 'disable';
  if (env.DATABASE_URL) {
    ({ url: connectionString, sslmode: urlSslMode } = splitSslMode(env.DATABASE_URL));
  } else if (env.SUPABASE_URL && env.SUPABASE_DB_PASSWORD) {
    connectionString = supabaseUrl(env.SUPABASE_URL, env.SUPABASE_DB_PASSWORD);
    defaultMode = 'verify-full'; // Supabase publishes its CA certificate: verify by default.
  }
  if (urlSslMode && !env.DATABASE_SSL && !(sslModes as readonly string[]).includes(urlSslMode)) {
    throw new ConfigError(
      `Invalid configuration: DATABASE_URL: sslmode=${urlSslMode} is not supported; use one of ${sslModes.join(', ')} (or set DATABASE_SSL)`,
    );
  }
  const mode = (env.DATABASE_SSL ?? (urlSslMode as SslMode | undefined) ?? defaultMode) as SslMode;
  if (mode === 'verify-full' && !env.DATABASE_SSL_CA) {
    throw new ConfigError('Invalid configuration: DATABASE_SSL_CA: is required with DATABASE_SSL=verify-full');
  }
  let ca: string | undefined;
  if (mode === 'verify-full' && env.DATABASE_SSL_CA) {
    try {
      ca = readFileSync(env.DATABASE_SSL_CA, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `Invalid configuration: DATABASE_SSL_CA: cannot read ${env.DATABASE_SSL_CA} (${(err as NodeJS.ErrnoException).code})`,
      );
    }
  }
  if (mode === 'require') {
    warnings.push('DATABASE_SSL=require encrypts the connection but does not verify the server; prefer verify-full with DATABASE_SSL_CA');
  }
  return {
    connectionString,
    ssl: { mode, ca },
    poolMax: env.PG_POOL_MAX,
    connectTimeoutMs: env.PG_CONNECT_TIMEOUT_MS,
    idleTimeoutMs: env.PG_IDLE_TIMEOUT_MS,
    statementTimeoutMs: env.PG_STATEMENT_TIMEOUT_MS,
  };
}

/** Parses and validates the environment; throws ConfigError with a one-line message naming the bad setting. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings count as unset, as in most .env tooling.
  const raw = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`Invalid configuration: ${issue.path.join('.') || 'environment'}: ${issue.message}`);
  }
  const env = parsed.data;
  const published = env.NODE_ENV === 'production' ? publishedSecret(raw) : undefined;
  if (published) throw new ConfigError(`Invalid configuration: ${published}`);
  const warnings: string[] = [];
  let secrets = commaList(env.SESSION_SECRET);
  if (secrets.length === 0) {
    secrets = [DEV_SECRET];
    warnings.push('SESSION_SECRET is not set: using a fixed development secret (refused in production)');
  }
  const connections = readConnections(raw, env.NODE_ENV === 'production', warnings, (setting, message) => {
    throw new ConfigError(`Invalid configuration: ${setting}: ${message}`);
  });
  const hashConcurrency = env.PASSWORD_HASH_CONCURRENCY ?? defaultHashConcurrency();
  if (hashConcurrency >= threadPoolSize(source)) {
    warnings.push(
      `PASSWORD_HASH_CONCURRENCY=${hashConcurrency} takes every libuv thread (UV_THREADPOOL_SIZE=${threadPoolSize(source)}): under a login storm new database connections wait behind the hashes and may time out`,
    );
  }
  if (env.SESSION_STORE === 'memory') {
    warnings.push(
      'SESSION_STORE=memory: sessions live in this process only; they are lost on restart and not shared with other replicas (refused in production)',
    );
  }
  return {
    env: env.NODE_ENV,
    host: env.HOST,
    port: env.PORT,
    metricsPort: env.METRICS_PORT || undefined,
    instanceId: env.INSTANCE_ID ?? `${hostname()}-${process.pid}`,
    logLevel: env.LOG_LEVEL,
    trustProxyHops: env.TRUST_PROXY_HOPS,
    database: resolveDatabase(env, warnings),
    session: {
      store: env.SESSION_STORE,
      secrets,
      maxAgeMs: env.SESSION_MAX_AGE_SECONDS * 1000,
      cookieName: env.SESSION_COOKIE_NAME,
      touchAfterMs: (env.SESSION_TOUCH_AFTER_SECONDS ?? defaultTouchAfterSeconds(env.SESSION_MAX_AGE_SECONDS)) * 1000,
      prune: { intervalMs: env.SESSION_PRUNE_INTERVAL_SECONDS * 1000, batchSize: env.SESSION_PRUNE_BATCH_SIZE },
      maxBytes: env.SESSION_MAX_BYTES,
    },
    passwordScryptCost: env.PASSWORD_SCRYPT_COST,
    passwordHashing: { concurrency: hashConcurrency, queue: env.PASSWORD_HASH_QUEUE },
    loginThrottle: {
      windowSeconds: env.LOGIN_THROTTLE_WINDOW_SECONDS,
      maxPerUser: env.LOGIN_MAX_FAILURES_PER_USER,
      maxPerIp: env.LOGIN_MAX_FAILURES_PER_IP,
    },
    shutdown: { drainMs: env.SHUTDOWN_DRAIN_MS, timeoutMs: env.SHUTDOWN_TIMEOUT_MS },
    expectedReplicas: env.EXPECTED_REPLICAS,
    schemaWaitMs: env.SCHEMA_WAIT_SECONDS * 1000,
    oidc: env.OIDC_ISSUER_URL
      ? {
          issuerUrl: env.OIDC_ISSUER_URL,
          clientId: env.OIDC_CLIENT_ID!,
          clientSecret: env.OIDC_CLIENT_SECRET!,
          redirectUrl: env.OIDC_REDIRECT_URL!,
        }
      : undefined,
    connections,
    warnings,
  };
}

/** Names of every environment variable the loader reads (used by the deployment consistency checks). */
export const knownEnvVars: readonly string[] = [
  ...Object.keys(schema.shape),
  ...connectionsEnvVars,
  'PGHOST',
  'PGPORT',
  'PGUSER',
  'PGPASSWORD',
  'PGDATABASE',
];
