/** Account connection settings (app/connections/settings.ts through loadConfig) and the token cipher on their own. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../app/config.js';
import { createTokenCipher, UndecryptableToken } from '../app/connections/token-cipher.js';

const KEY = randomBytes(32).toString('base64');
const STRAVA = {
  CONNECTIONS_STRAVA_CLIENT_ID: '12345',
  CONNECTIONS_STRAVA_CLIENT_SECRET: randomBytes(20).toString('hex'),
  CONNECTIONS_BASE_URL: 'https://app.example.com',
};
const PRODUCTION = { NODE_ENV: 'production', SESSION_SECRET: randomBytes(32).toString('base64') };

const refusal = (env: NodeJS.ProcessEnv) => {
  try {
    loadConfig(env);
    return 'accepted';
  } catch (err) {
    return (err as Error).message;
  }
};

describe('Account connection settings', () => {
  it('When nothing is set, then no provider is enabled; Strava is enabled by its client id and secret alone, with its documented endpoints', () => {
    assert.deepEqual(loadConfig({}).connections.providers, []);
    const [strava, ...others] = loadConfig({ ...STRAVA, CONNECTIONS_KEY: KEY }).connections.providers;
    assert.deepEqual(others, []);
    assert.deepEqual(
      { ...strava, clientSecret: 'x' },
      {
        name: 'strava',
        label: 'Strava',
        authorizeUrl: 'https://www.strava.com/oauth/authorize',
        tokenUrl: 'https://www.strava.com/oauth/token',
        clientId: '12345',
        clientSecret: 'x',
        scopes: 'read,activity:read',
        redirectUrl: 'https://app.example.com/api/connections/strava/callback',
      },
    );
    const foursquare = loadConfig({
      CONNECTIONS_FOURSQUARE_CLIENT_ID: 'a',
      CONNECTIONS_FOURSQUARE_CLIENT_SECRET: 'secret',
      CONNECTIONS_BASE_URL: 'https://app.example.com',
    }).connections.providers[0]!;
    assert.deepEqual(
      [foursquare.authorizeUrl, foursquare.tokenUrl, foursquare.scopes],
      ['https://foursquare.com/oauth2/authenticate', 'https://foursquare.com/oauth2/access_token', ''],
    );
  });

  it('When a custom provider (Garmin) is listed with its endpoints, then it is enabled like a preset', () => {
    const [garmin] = loadConfig({
      CONNECTIONS_CUSTOM: 'garmin',
      CONNECTIONS_BASE_URL: 'https://app.example.com',
      CONNECTIONS_GARMIN_AUTHORIZE_URL: 'https://connect.garmin.com/oauth2Confirm',
      CONNECTIONS_GARMIN_TOKEN_URL: 'https://diauth.garmin.com/di-oauth2-service/oauth/token',
      CONNECTIONS_GARMIN_CLIENT_ID: 'id',
      CONNECTIONS_GARMIN_CLIENT_SECRET: 'secret',
      CONNECTIONS_GARMIN_LABEL: 'Garmin Connect',
    }).connections.providers;
    assert.equal(garmin!.label, 'Garmin Connect');
    assert.equal(garmin!.scopes, '');
    assert.equal(garmin!.redirectUrl, 'https://app.example.com/api/connections/garmin/callback');
  });

  it('When a connection setting is wrong, then startup is refused with one line naming it', () => {
    const cases: [NodeJS.ProcessEnv, string][] = [
      [{ CONNECTIONS_STRAVA_CLIENT_ID: '1' }, 'CONNECTIONS_STRAVA_CLIENT_SECRET: is required with CONNECTIONS_STRAVA_CLIENT_ID'],
      [{ CONNECTIONS_STRAVA_CLIENT_SECRET: 'secret' }, 'CONNECTIONS_STRAVA_CLIENT_ID: is required with CONNECTIONS_STRAVA_CLIENT_SECRET'],
      [
        { ...STRAVA, CONNECTIONS_BASE_URL: '' },
        'CONNECTIONS_BASE_URL: is required with a connection provider: the public address of the site, e.g. https://app.example.com',
      ],
      [
        { ...STRAVA, CONNECTIONS_BASE_URL: 'https://app.example.com/app' },
        'CONNECTIONS_BASE_URL: must be an origin without a path, e.g. https://app.example.com',
      ],
      [
        { ...STRAVA, CONNECTIONS_KEY: 'too-short' },
        'CONNECTIONS_KEY: each key must be 32 random bytes in base64 (openssl rand -base64 32)',
      ],
      [
        { ...STRAVA, CONNECTIONS_KEY: `${KEY},${KEY.slice(1)}` },
        'CONNECTIONS_KEY: each key must be 32 random bytes in base64 (openssl rand -base64 32)',
      ],
      [
        { ...STRAVA, CONNECTIONS_STRAVA_TOKEN_URL: 'http://strava.example/token' },
        'CONNECTIONS_STRAVA_TOKEN_URL: must be https (plain http only for a provider on 127.0.0.1 or localhost)',
      ],
      [
        { ...STRAVA, CONNECTIONS_STRAVA_CLIENTID: 'typo' },
        'CONNECTIONS_STRAVA_CLIENTID: is not a setting (a custom provider must be listed in CONNECTIONS_CUSTOM)',
      ],
      [
        { CONNECTIONS_CUSTOM: 'garmin', CONNECTIONS_GARMIN_AUTHORIZE_URL: 'https://connect.garmin.com/oauth2Confirm' },
        'CONNECTIONS_GARMIN_TOKEN_URL: is required: garmin is listed in CONNECTIONS_CUSTOM',
      ],
      [
        { CONNECTIONS_CUSTOM: 'strava' },
        'CONNECTIONS_CUSTOM: "strava" is a preset: set its CONNECTIONS_STRAVA_* settings without listing it',
      ],
      [
        { CONNECTIONS_CUSTOM: 'Not OK' },
        'CONNECTIONS_CUSTOM: "Not OK" is not a provider name (2-31 of a-z, 0-9 and -, starting with a letter)',
      ],
      [{ ...STRAVA, CONNECTIONS_TIMEOUT_MS: '5' }, 'CONNECTIONS_TIMEOUT_MS: must be a whole number from 100 to 60000'],
      [
        { ...PRODUCTION, ...STRAVA },
        'CONNECTIONS_KEY: is required in production when a connection provider is configured (openssl rand -base64 32)',
      ],
      [
        { ...PRODUCTION, ...STRAVA, CONNECTIONS_KEY: 'ZGV2LW9ubHktY29ubmVjdGlvbnMta2V5LTMyLWJ5dGU=' },
        'CONNECTIONS_KEY: the value is published in this repository (an example or test value), so anyone knows it; use your own (openssl rand -base64 32)',
      ],
    ];
    for (const [env, message] of cases) assert.equal(refusal(env), `Invalid configuration: ${message}`);
    assert.equal(
      refusal({ ...PRODUCTION, ...STRAVA, CONNECTIONS_KEY: `${KEY}, ${randomBytes(32).toString('base64url')}` }),
      'accepted',
      'base64url and spaces are fine',
    );
  });

  it('When no key is set outside production, then a fixed development key is used, with a warning', () => {
    const config = loadConfig(STRAVA);
    assert.equal(config.connections.keys.length, 1);
    assert.ok(config.warnings.some((w) => w.startsWith('CONNECTIONS_KEY is not set')));
  });
});

describe('Token cipher (AES-256-GCM)', () => {
  const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];

  it('When a token is encrypted twice, then the ciphertexts differ and each opens only with its key and its row and column', () => {
    const before = createTokenCipher([oldKey]);
    const first = before.encrypt('token-value', '1/strava/access');
    assert.notDeepEqual(first, before.encrypt('token-value', '1/strava/access'), 'a new IV each time');
    const rotated = createTokenCipher([newKey, oldKey]);
    assert.equal(rotated.decrypt(before.keyId, first, '1/strava/access'), 'token-value');
    assert.notEqual(rotated.keyId, before.keyId, 'the new key encrypts');
    for (const [keyId, context] of [
      [before.keyId, '2/strava/access'],
      [before.keyId, '1/strava/refresh'],
      [rotated.keyId, '1/strava/access'],
    ] as const) {
      assert.throws(() => rotated.decrypt(keyId, first, context), UndecryptableToken);
    }
    assert.throws(() => createTokenCipher([newKey]).decrypt(before.keyId, first, '1/strava/access'), UndecryptableToken);
  });
});
