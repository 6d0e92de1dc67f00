/**
 * Sign-in with any OpenID Connect provider (Google, Keycloak, Entra ID, ...) with openid-client
 * (https://github.com/panva/openid-client): authorization code flow with PKCE, state and nonce.
 * The state, nonce and code verifier wait in the session, i.e. in PostgreSQL: the callback may land on any replica.
 */
import { Router } from 'express';
import type { Logger } from 'pino';
import * as oidc from 'openid-client';
import type { OidcConfig } from '../config.js';
import { HttpError } from '../http/errors.js';
import type { Identities } from '../identities.js';
import { startSession } from './auth.js';
import { sessionCall } from '../session.js';

declare module 'express-session' {
  interface SessionData {
    /** Between /api/oidc/login and its callback: what only this browser's session can show back. */
    oidc: { state: string; nonce: string; codeVerifier: string };
  }
}

const SCOPE = 'openid email profile';
const PROVIDER_TIMEOUT_SECONDS = 5;

/** Discovery once per process, on first use: a provider that is down must not stop the replica from starting. */
function provider(settings: OidcConfig, logger: Logger): () => Promise<oidc.Configuration> {
  let discovered: Promise<oidc.Configuration> | undefined;
  const issuer = new URL(settings.issuerUrl);
  // Plain HTTP is refused by openid-client; config.ts accepts it only for a provider on this machine.
  const insecure = issuer.protocol === 'http:';
  return () =>
    (discovered ??= oidc
      .discovery(issuer, settings.clientId, settings.clientSecret, undefined, {
        timeout: PROVIDER_TIMEOUT_SECONDS,
        ...(insecure && { execute: [oidc.allowInsecureRequests] }),
      })
      .catch((err: Error) => {
        discovered = undefined; // try again on the next request
        logger.warn({ err: { message: err.message, cause: (err.cause as Error | undefined)?.message } }, 'OIDC discovery failed');
        throw providerUnavailable();
      }));
}

// 503, not 502: nginx would take a 502 for a dead replica and retry elsewhere.
const providerUnavailable = () => new HttpError(503, 'identity provider unavailable, try again shortly', { 'Retry-After': '5' });

/** A refused or failed sign-in as a 400 naming why (the provider's error code or openid-client's check). */
function signInError(err: unknown, logger: Logger): HttpError {
  if (err instanceof oidc.AuthorizationResponseError || err instanceof oidc.ResponseBodyError) {
    return new HttpError(400, `sign-in failed at the provider: ${err.error}`);
  }
  if (err instanceof oidc.ClientError) {
    const detail = err.cause instanceof Error ? err.cause.message : err.message;
    return new HttpError(400, `sign-in failed: ${detail}`.slice(0, 200));
  }
  logger.warn({ err: { message: (err as Error).message } }, 'OIDC token request failed'); // fetch failed, timeout
  return providerUnavailable();
}

/** GET /api/auth-options always; the sign-in routes only when OIDC_* is configured. */
export function oidcRoutes(settings: OidcConfig | undefined, identities: Identities, logger: Logger): Router {
  const router = Router();
  router.get('/api/auth-options', (_req, res) => {
    res.json({ password: true, oidc: settings ? { loginUrl: '/api/oidc/login' } : null });
  });
  if (!settings) return router;
  const configuration = provider(settings, logger);

  router.get('/api/oidc/login', async (req, res) => {
    const config = await configuration();
    const pending = { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier: oidc.randomPKCECodeVerifier() };
    req.session.oidc = pending;
    await sessionCall(req, 'save'); // stored before the browser leaves: its return may reach another replica first
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: settings.redirectUrl,
      scope: SCOPE,
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
    });
    res.redirect(302, url.href);
  });

  router.get('/api/oidc/callback', async (req, res) => {
    const pending = req.session.oidc;
    if (!pending) throw new HttpError(400, 'no sign-in in progress in this session: start again at /api/oidc/login');
    // One use only, whatever the outcome: saved now, so a replayed callback on another replica finds nothing, and a
    // save that fails (the session ended meanwhile) is a JSON error rather than a response cut short.
    delete req.session.oidc;
    await sessionCall(req, 'save');
    const config = await configuration();
    // The URL the provider redirected to, rebuilt from the configured one: behind nginx the request's own host
    // and scheme are not what the provider saw, and redirect_uri must match exactly.
    const current = new URL(settings.redirectUrl);
    current.search = new URL(req.originalUrl, current).search;
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      throw signInError(err, logger);
    }
    const claims = tokens.claims()!; // present: an ID token is required above
    const hint = [claims.preferred_username, typeof claims.email === 'string' ? claims.email.split('@')[0] : undefined, claims.name].find(
      (v): v is string => typeof v === 'string' && v.length > 0,
    );
    const user = await identities.signIn(claims.iss, claims.sub, hint);
    await startSession(req, user); // a new session id: the pre-sign-in session is destroyed (fixation)
    res.redirect(302, '/');
  });

  return router;
}
