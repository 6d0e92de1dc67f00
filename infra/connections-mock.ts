/**
 * A local OAuth 2.0 provider for account connections (oauth2-mock-server, https://github.com/axa-group/oauth2-mock-server),
 * for `npm start -- --oidc-mock` and the tests. Like Strava it is a plain authorization server: no ID token, an access
 * token that expires, a refresh token. It has no login page (whoever comes is sent back with a code) and checks PKCE.
 * The tests can make it refuse refreshes and read which tokens it issued and which refresh tokens it was sent.
 */
import { randomBytes } from 'node:crypto';
import { OAuth2Server } from 'oauth2-mock-server';

export interface ConnectionsMock {
  url: string;
  /** Replica settings for a custom provider `name` at this server, whose callbacks reach `baseUrl` (the site's origin). */
  env(baseUrl: string, name?: string): NodeJS.ProcessEnv;
  /** Every access and refresh token it issued, oldest first. */
  issued: { accessToken: string; refreshToken?: string }[];
  /** The refresh tokens of refresh_token grants it received. */
  refreshGrants: string[];
  /** When true, refresh_token grants get 400 invalid_grant (a revoked or expired refresh token). */
  refuseRefresh: boolean;
  /** When true, a token response is `{access_token}` only, as Foursquare's: no token_type, expiry or refresh token. */
  bareTokens: boolean;
  stop(): Promise<void>;
}

const MOCK_SCOPES = 'activity:read profile';

export async function startConnectionsMock(opts: { port?: number } = {}): Promise<ConnectionsMock> {
  const server = new OAuth2Server();
  await server.issuer.keys.generate('RS256');
  // Made per start: replicas run in production mode, which refuses values written in the repository.
  const clientSecret = randomBytes(24).toString('base64url');
  const mock: Omit<ConnectionsMock, 'url' | 'env' | 'stop'> = { issued: [], refreshGrants: [], refuseRefresh: false, bareTokens: false };
  server.service.on(
    'beforeResponse',
    (response: { body: Record<string, unknown>; statusCode: number }, req: { body: Record<string, string> }) => {
      if (req.body.grant_type === 'refresh_token') {
        mock.refreshGrants.push(req.body.refresh_token!);
        if (mock.refuseRefresh) {
          response.statusCode = 400;
          response.body = { error: 'invalid_grant', error_description: 'refresh token revoked' };
          return;
        }
        response.body.refresh_token = randomBytes(24).toString('base64url'); // rotated on every use, as Strava may
      }
      delete response.body.id_token; // OAuth 2.0, not OpenID Connect
      response.body.scope = MOCK_SCOPES;
      if (mock.bareTokens) response.body = { access_token: response.body.access_token };
      if (typeof response.body.access_token === 'string') {
        mock.issued.push({ accessToken: response.body.access_token, refreshToken: response.body.refresh_token as string | undefined });
      }
    },
  );
  await server.start(opts.port, '127.0.0.1');
  const url = `http://127.0.0.1:${server.address().port}`;
  return Object.assign(mock, {
    url,
    env: (baseUrl: string, name = 'mock') => {
      const prefix = `CONNECTIONS_${name.toUpperCase().replaceAll('-', '_')}`;
      return {
        CONNECTIONS_CUSTOM: name,
        CONNECTIONS_BASE_URL: baseUrl,
        [`${prefix}_LABEL`]: 'Mock provider',
        [`${prefix}_AUTHORIZE_URL`]: `${url}/authorize`,
        [`${prefix}_TOKEN_URL`]: `${url}/token`,
        [`${prefix}_CLIENT_ID`]: 'local-connections-client',
        [`${prefix}_CLIENT_SECRET`]: clientSecret,
        [`${prefix}_SCOPES`]: MOCK_SCOPES,
      };
    },
    stop: () => server.stop(),
  });
}
