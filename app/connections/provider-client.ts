/**
 * The OAuth 2.0 side of a connection, with openid-client 6's plain OAuth functions (https://github.com/panva/openid-client;
 * built on oauth4webapi): authorization URL with PKCE (S256) and state, code grant, refresh_token grant. The provider's
 * endpoints come from the configuration: no discovery, so nothing is fetched before the browser leaves.
 */
import * as oauth from 'openid-client';
import type { ConnectionProvider } from './settings.js';
import type { Tokens } from './store.js';

/** The provider cannot be reached, timed out, or answered with something other than an OAuth response. */
export class ProviderUnavailable extends Error {}
/** The provider answered with an OAuth error: `code` is its error code (access_denied, invalid_grant, ...). */
export class ProviderRefused extends Error {
  constructor(
    readonly code: string,
    readonly atAuthorization: boolean,
  ) {
    super(code);
  }
}

/**
 * Some providers leave token_type out of the token response (Foursquare answers `{access_token}` only, as its documentation
 * shows); oauth4webapi requires it. Such a response is read as the Bearer token it is.
 */
const bearerByDefault: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  if (!response.ok || !response.headers.get('content-type')?.includes('json')) return response;
  const body = (await response
    .clone()
    .json()
    .catch(() => undefined)) as Record<string, unknown> | undefined;
  if (!body || typeof body.access_token !== 'string' || body.token_type !== undefined) return response;
  return Response.json({ ...body, token_type: 'bearer' }, { status: response.status, headers: response.headers });
};

// openid-client's codes for a provider that timed out or answered with no OAuth response at all (a 502 page).
const UNAVAILABLE_CODES = new Set(['OAUTH_TIMEOUT', 'OAUTH_ABORT', 'OAUTH_RESPONSE_IS_NOT_CONFORM', 'OAUTH_RESPONSE_IS_NOT_JSON']);

/** What went wrong, as one of the two errors above; a check of the library that failed (a ClientError) stays itself. */
function classify(err: unknown): Error {
  if (err instanceof oauth.AuthorizationResponseError) return new ProviderRefused(err.error, true);
  if (err instanceof oauth.ResponseBodyError)
    return err.status >= 500 ? new ProviderUnavailable(`HTTP ${err.status}`) : new ProviderRefused(err.error, false);
  if (err instanceof oauth.ClientError && !UNAVAILABLE_CODES.has(err.code ?? '')) return err;
  return new ProviderUnavailable((err as Error).message); // and fetch failed (TypeError): refused, reset, DNS
}

const scopesOf = (value: string | undefined) => (value ?? '').split(/[\s,]+/).filter(Boolean);

export function providerClient(provider: ConnectionProvider, timeoutMs: number) {
  const config = new oauth.Configuration(
    // No issuer is published for plain OAuth 2.0: the authorization server is named after its authorize URL's origin.
    { issuer: new URL(provider.authorizeUrl).origin, authorization_endpoint: provider.authorizeUrl, token_endpoint: provider.tokenUrl },
    provider.clientId,
    provider.clientSecret, // sent as client_secret_post, as Strava's and Foursquare's token endpoints expect
  );
  config.timeout = timeoutMs / 1000;
  config[oauth.customFetch] = bearerByDefault;
  // settings.ts allows plain http only for a provider on this machine (the local mock).
  if (provider.tokenUrl.startsWith('http:')) oauth.allowInsecureRequests(config);

  const tokensOf = (response: oauth.TokenEndpointResponse & oauth.TokenEndpointResponseHelpers, grantedScopes: string[]): Tokens => {
    const expiresIn = response.expiresIn();
    return {
      accessToken: response.access_token,
      refreshToken: response.refresh_token,
      expiresAt: expiresIn === undefined ? undefined : new Date(Date.now() + expiresIn * 1000),
      scopes: scopesOf(response.scope).length ? scopesOf(response.scope) : grantedScopes,
    };
  };

  return {
    /** Where to send the browser; state and verifier stay on the server. */
    async authorizationUrl(state: string, codeVerifier: string): Promise<URL> {
      return oauth.buildAuthorizationUrl(config, {
        redirect_uri: provider.redirectUrl,
        ...(provider.scopes && { scope: provider.scopes }),
        code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        state,
      });
    },

    /** The callback's query string, checked against the pending state and exchanged with the PKCE verifier. */
    async exchange(search: string, pending: { state: string; codeVerifier: string }): Promise<Tokens> {
      // The URL the provider redirected to, rebuilt from the configured one: behind nginx the request's own host and
      // scheme are not what the provider saw, and redirect_uri must match exactly.
      const current = new URL(provider.redirectUrl);
      current.search = search;
      try {
        const response = await oauth.authorizationCodeGrant(config, current, {
          pkceCodeVerifier: pending.codeVerifier,
          expectedState: pending.state,
        });
        // Strava reports the scopes the user accepted in the callback, not in the token response.
        return tokensOf(response, scopesOf(current.searchParams.get('scope') ?? provider.scopes));
      } catch (err) {
        throw classify(err);
      }
    },

    async refresh(refreshToken: string): Promise<Tokens> {
      try {
        return tokensOf(await oauth.refreshTokenGrant(config, refreshToken), []);
      } catch (err) {
        throw classify(err);
      }
    },
  };
}

export type ProviderClient = ReturnType<typeof providerClient>;
