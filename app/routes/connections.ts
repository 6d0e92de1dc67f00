/**
 * OAuth 2.0 account connections (Strava, Foursquare, any configured provider): connect, list, refresh, remove.
 * Not a sign-in: the user is signed in already, and the provider's tokens are kept for them (encrypted) to call its API.
 */
import { Router, type Request } from 'express';
import type { Logger } from 'pino';
import type pg from 'pg';
import * as oauth from 'openid-client';
import type { ConnectionsConfig } from '../connections/settings.js';
import { createTokenCipher } from '../connections/token-cipher.js';
import { createConnectionStore } from '../connections/store.js';
import { providerClient, ProviderRefused, ProviderUnavailable, type ProviderClient } from '../connections/provider-client.js';
import { addPending, takePending } from '../connections/pending.js';
import { HttpError } from '../http/errors.js';
import { requireCsrf, requireUser } from '../http/guards.js';
import { sessionCall } from '../session.js';

// 503, not 502: nginx would take a 502 for a dead replica and try another.
const unavailable = (label: string) => new HttpError(503, `${label} cannot be reached, try again shortly`, { 'Retry-After': '5' });

export function connectionRoutes(settings: ConnectionsConfig, pool: pg.Pool, logger: Logger): Router {
  const store = createConnectionStore(pool, createTokenCipher(settings.keys));
  const providers = new Map(settings.providers.map((p) => [p.name, { ...p, client: providerClient(p, settings.timeoutMs) }]));
  const names = [...providers.keys()];

  /** The configured provider named in the path, or a 404 (an unknown or unconfigured name is the same to a client). */
  const providerOf = (req: Request) => {
    const provider = providers.get(String(req.params.provider));
    if (!provider) throw new HttpError(404, 'unknown provider');
    return provider;
  };
  /** Never the error's body or cause: a provider's error response may quote what it was sent. */
  const warn = (provider: string, what: string, err: Error) =>
    logger.warn({ provider, err: { message: err.message } }, `${what} failed: provider unavailable`);
  const startAgain = (name: string) => `start again at /api/connections/${name}/start`;

  const router = Router();

  router.get('/api/connections', requireUser, async (req, res) => {
    res.json({
      providers: [...providers.values()].map((p) => ({ name: p.name, label: p.label, startUrl: `/api/connections/${p.name}/start` })),
      connections: await store.list(req.session.user!.id, names),
    });
  });

  router.get('/api/connections/:provider/start', requireUser, async (req, res) => {
    const provider = providerOf(req);
    const flow = { provider: provider.name, state: oauth.randomState(), codeVerifier: oauth.randomPKCECodeVerifier() };
    addPending(req.session, flow);
    await sessionCall(req, 'save'); // stored before the browser leaves: its return may reach another replica first
    res.set('Cache-Control', 'no-store').redirect(302, (await provider.client.authorizationUrl(flow.state, flow.codeVerifier)).href);
  });

  router.get('/api/connections/:provider/callback', requireUser, async (req, res) => {
    const provider = providerOf(req);
    const search = new URL(req.originalUrl, 'http://callback').search;
    const pending = takePending(req.session, provider.name, new URLSearchParams(search).get('state'));
    // One use only, whatever the outcome: saved now, so a replayed callback on another replica finds nothing.
    await sessionCall(req, 'save');
    if (pending === 'expired') throw new HttpError(400, `this connection attempt expired: ${startAgain(provider.name)}`);
    if (!pending) throw new HttpError(400, `no connection to ${provider.name} in progress for this state: ${startAgain(provider.name)}`);
    try {
      await store.save(req.session.user!.id, provider.name, await provider.client.exchange(search, pending));
    } catch (err) {
      if (err instanceof ProviderUnavailable) {
        warn(provider.name, 'connection', err);
        throw unavailable(provider.label);
      }
      // The user said no at the provider: back to the page, which says so.
      if (err instanceof ProviderRefused && err.atAuthorization)
        return res.redirect(302, `/?connection=${provider.name}&result=${encodeURIComponent(err.code)}`);
      if (err instanceof ProviderRefused) throw new HttpError(400, `${provider.label} refused the connection: ${err.code}`.slice(0, 200));
      if (err instanceof oauth.ClientError) throw new HttpError(400, `connection failed: ${err.message}`.slice(0, 200));
      throw err;
    }
    res.redirect(302, `/?connection=${provider.name}&result=connected`);
  });

  // A refresh only when the access token has expired (or expires within a minute); otherwise the stored one stands.
  router.post('/api/connections/:provider/refresh', requireUser, requireCsrf, async (req, res) => {
    const provider = providerOf(req);
    const result = await store
      .refresh(req.session.user!.id, provider.name, (refreshToken) => renew(provider.client, refreshToken))
      .catch((err: unknown) => {
        if (!(err instanceof ProviderUnavailable)) throw err;
        warn(provider.name, 'refresh', err);
        throw unavailable(provider.label);
      });
    if (result.outcome === 'not-connected') throw new HttpError(404, `not connected to ${provider.name}`);
    if (result.outcome === 'needs-reconnect')
      throw new HttpError(409, `${result.reason}: connect again at /api/connections/${provider.name}/start`);
    res.json({ refreshed: result.outcome === 'refreshed', connection: result.connection });
  });

  router.delete('/api/connections/:provider', requireUser, requireCsrf, async (req, res) => {
    const provider = providerOf(req);
    if (!(await store.remove(req.session.user!.id, provider.name))) throw new HttpError(404, `not connected to ${provider.name}`);
    res.status(204).end();
  });

  return router;
}

/** The provider's refusal (invalid_grant: revoked, expired, already used) is an answer for the store, not an error. */
async function renew(client: ProviderClient, refreshToken: string) {
  try {
    return await client.refresh(refreshToken);
  } catch (err) {
    if (err instanceof ProviderRefused) return { refused: err.code };
    throw err;
  }
}
