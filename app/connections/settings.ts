/**
 * Account connections (OAuth 2.0 authorization code with PKCE) configured from the environment: presets for Strava
 * and Foursquare, any other provider by name in CONNECTIONS_CUSTOM. A provider is enabled only when its client id and
 * secret are both set. Every mistake is one line naming the setting (the caller turns it into a ConfigError).
 */
import { commaList } from '../comma-list.js';

export interface ConnectionProvider {
  /** The URL segment: /api/connections/<name>/start. */
  name: string;
  label: string;
  authorizeUrl: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** The scope parameter exactly as the provider wants it (Strava separates with commas); '' sends none. */
  scopes: string;
  /** Registered at the provider; the same for every replica (the callback may land on any of them). */
  redirectUrl: string;
}

export interface ConnectionsConfig {
  providers: ConnectionProvider[];
  /** AES-256-GCM keys: the first encrypts, all decrypt (CONNECTIONS_KEY=NEW,OLD rotates). */
  keys: Buffer[];
  /** How long a token request may take before the answer is a 503. */
  timeoutMs: number;
}

interface Preset {
  label: string;
  authorizeUrl: string;
  tokenUrl: string;
  scopes: string;
}

/**
 * Endpoints from the providers' own documentation:
 * - Strava: https://developers.strava.com/docs/authentication/ (scopes comma-separated; 6-hour access tokens, refresh tokens)
 * - Foursquare: https://docs.foursquare.com/developer/reference/v2-authentication (no scopes; tokens do not expire)
 * Garmin is not a preset: see docs/security.md, "Account connections".
 */
const PRESETS: Record<string, Preset> = {
  strava: {
    label: 'Strava',
    authorizeUrl: 'https://www.strava.com/oauth/authorize',
    tokenUrl: 'https://www.strava.com/oauth/token',
    scopes: 'read,activity:read',
  },
  foursquare: {
    label: 'Foursquare',
    authorizeUrl: 'https://foursquare.com/oauth2/authenticate',
    tokenUrl: 'https://foursquare.com/oauth2/access_token',
    scopes: '',
  },
};

/** Settings of the feature itself; every other CONNECTIONS_* name belongs to a provider. */
const GLOBAL = ['CONNECTIONS_KEY', 'CONNECTIONS_BASE_URL', 'CONNECTIONS_CUSTOM', 'CONNECTIONS_TIMEOUT_MS'] as const;
const PER_PROVIDER = ['CLIENT_ID', 'CLIENT_SECRET', 'SCOPES', 'AUTHORIZE_URL', 'TOKEN_URL', 'LABEL'] as const;
const NAME = /^[a-z][a-z0-9-]{1,30}$/;
const RESERVED = new Set(['key', 'base-url', 'custom', 'timeout-ms']);
const LOOPBACK = /^(127(\.\d+){3}|localhost|\[::1\])$/;
const KEY_BYTES = 32;
const GENERATE_KEY = 'openssl rand -base64 32';
// Outside production only, like the development SESSION_SECRET (app/published-secrets.ts lists it).
const DEV_KEY = 'ZGV2LW9ubHktY29ubmVjdGlvbnMta2V5LTMyLWJ5dGU=';

/** Names of the settings a deployment may set, for the consistency checks (the preset providers' included). */
export const connectionsEnvVars: readonly string[] = [
  ...GLOBAL,
  ...Object.keys(PRESETS).flatMap((name) => PER_PROVIDER.map((field) => settingOf(name, field))),
];

function settingOf(name: string, field: (typeof PER_PROVIDER)[number]): string {
  return `CONNECTIONS_${name.toUpperCase().replaceAll('-', '_')}_${field}`;
}

type Fail = (setting: string, message: string) => never;

/** An http(s) URL, or the one-line failure naming the setting. */
function httpUrl(value: string, setting: string, fail: Fail): URL {
  if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) fail(setting, 'must be an http(s) URL');
  return new URL(value);
}

/** https, or plain http to this machine only (the local mock provider). */
function endpoint(value: string, setting: string, fail: Fail): string {
  const url = httpUrl(value, setting, fail);
  if (url.protocol === 'http:' && !LOOPBACK.test(url.hostname))
    fail(setting, 'must be https (plain http only for a provider on 127.0.0.1 or localhost)');
  return url.href;
}

function parseKeys(value: string | undefined, fail: Fail): Buffer[] {
  return commaList(value).map((key) => {
    const bytes = Buffer.from(key, 'base64');
    // Buffer.from skips what is not base64: compare the round trip so a typo is not silently a different key.
    const canonical = bytes.toString('base64').replace(/=+$/, '');
    if (bytes.length !== KEY_BYTES || canonical !== key.replaceAll('-', '+').replaceAll('_', '/').replace(/=+$/, '')) {
      fail('CONNECTIONS_KEY', `each key must be ${KEY_BYTES} random bytes in base64 (${GENERATE_KEY})`);
    }
    return bytes;
  });
}

function baseUrl(value: string | undefined, fail: Fail): string {
  if (!value)
    fail('CONNECTIONS_BASE_URL', 'is required with a connection provider: the public address of the site, e.g. https://app.example.com');
  const url = httpUrl(value, 'CONNECTIONS_BASE_URL', fail);
  if (url.pathname !== '/' || url.search || url.hash)
    fail('CONNECTIONS_BASE_URL', 'must be an origin without a path, e.g. https://app.example.com');
  return url.origin;
}

function customNames(value: string | undefined, fail: Fail): string[] {
  const names = commaList(value);
  for (const name of names) {
    if (!NAME.test(name) || RESERVED.has(name))
      fail('CONNECTIONS_CUSTOM', `"${name}" is not a provider name (2-31 of a-z, 0-9 and -, starting with a letter)`);
    if (PRESETS[name])
      fail('CONNECTIONS_CUSTOM', `"${name}" is a preset: set its CONNECTIONS_${name.toUpperCase()}_* settings without listing it`);
  }
  return names;
}

/**
 * The connections configuration from the environment (empty strings already removed). `warnings` gets what a
 * development setup should hear about.
 */
export function readConnections(env: NodeJS.ProcessEnv, production: boolean, warnings: string[], fail: Fail): ConnectionsConfig {
  const custom = customNames(env.CONNECTIONS_CUSTOM, fail);
  const names = [...Object.keys(PRESETS), ...custom];
  // A misspelt setting would silently leave a provider off or at its default: refuse names nobody reads.
  const known = new Set<string>([...GLOBAL, ...names.flatMap((name) => PER_PROVIDER.map((field) => settingOf(name, field)))]);
  const unknown = Object.keys(env).find((key) => key.startsWith('CONNECTIONS_') && !known.has(key));
  if (unknown) fail(unknown, 'is not a setting (a custom provider must be listed in CONNECTIONS_CUSTOM)');

  const timeoutMs = Number(env.CONNECTIONS_TIMEOUT_MS ?? 5000);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 60_000)
    fail('CONNECTIONS_TIMEOUT_MS', 'must be a whole number from 100 to 60000');

  const enabled = names.filter((name) => {
    const id = env[settingOf(name, 'CLIENT_ID')];
    const secret = env[settingOf(name, 'CLIENT_SECRET')];
    if (id && !secret) fail(settingOf(name, 'CLIENT_SECRET'), `is required with ${settingOf(name, 'CLIENT_ID')}`);
    if (secret && !id) fail(settingOf(name, 'CLIENT_ID'), `is required with ${settingOf(name, 'CLIENT_SECRET')}`);
    if (!PRESETS[name] && !(env[settingOf(name, 'AUTHORIZE_URL')] && env[settingOf(name, 'TOKEN_URL')])) {
      const missing = env[settingOf(name, 'AUTHORIZE_URL')] ? 'TOKEN_URL' : 'AUTHORIZE_URL';
      fail(settingOf(name, missing), `is required: ${name} is listed in CONNECTIONS_CUSTOM`);
    }
    return Boolean(id);
  });

  let keys = parseKeys(env.CONNECTIONS_KEY, fail);
  if (enabled.length > 0 && keys.length === 0) {
    if (production) fail('CONNECTIONS_KEY', `is required in production when a connection provider is configured (${GENERATE_KEY})`);
    keys = [Buffer.from(DEV_KEY, 'base64')];
    warnings.push('CONNECTIONS_KEY is not set: provider tokens are encrypted with a fixed development key (refused in production)');
  }
  const origin = enabled.length > 0 ? baseUrl(env.CONNECTIONS_BASE_URL, fail) : '';

  const providers = enabled.map((name): ConnectionProvider => {
    const get = (field: (typeof PER_PROVIDER)[number]) => env[settingOf(name, field)];
    const preset = PRESETS[name];
    return {
      name,
      label: get('LABEL') ?? preset?.label ?? name,
      authorizeUrl: endpoint(get('AUTHORIZE_URL') ?? preset!.authorizeUrl, settingOf(name, 'AUTHORIZE_URL'), fail),
      tokenUrl: endpoint(get('TOKEN_URL') ?? preset!.tokenUrl, settingOf(name, 'TOKEN_URL'), fail),
      clientId: get('CLIENT_ID')!,
      clientSecret: get('CLIENT_SECRET')!,
      scopes: get('SCOPES') ?? preset?.scopes ?? '',
      redirectUrl: `${origin}/api/connections/${name}/callback`,
    };
  });
  return { providers, keys, timeoutMs };
}
