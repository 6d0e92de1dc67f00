/**
 * A local OpenID Connect provider (oauth2-mock-server, https://github.com/axa-group/oauth2-mock-server) for
 * `npm start -- --oidc-mock` and the tests. It has no login page: whoever is sent to it comes back signed in as the
 * current identity (by default "johndoe"). It checks PKCE and echoes the nonce like a real provider.
 */
import { randomBytes } from 'node:crypto';
import { OAuth2Server } from 'oauth2-mock-server';

export interface MockIdentity {
  sub: string;
  preferred_username?: string;
  email?: string;
}

export interface OidcMock {
  issuerUrl: string;
  /** The OIDC_* settings for replicas whose callback is `redirectUrl`. */
  env(redirectUrl: string): NodeJS.ProcessEnv;
  /** Who the next sign-ins are. */
  signInAs(identity: MockIdentity): void;
  /** Authorization requests received, newest last (to check PKCE parameters). */
  authorizeRequests: URLSearchParams[];
  stop(): Promise<void>;
}

// A client secret made per start: replicas run in production mode, which refuses values written in the repository.
const MOCK_CLIENT = { id: 'local-client', secret: randomBytes(24).toString('base64url') };

export async function startOidcMock(opts: { port?: number } = {}): Promise<OidcMock> {
  const server = new OAuth2Server();
  await server.issuer.keys.generate('RS256');
  let identity: MockIdentity = { sub: 'johndoe', preferred_username: 'johndoe', email: 'johndoe@example.com' };
  const authorizeRequests: URLSearchParams[] = [];
  // Both the access token and the ID token name the current identity.
  server.service.on('beforeTokenSigning', (token) => Object.assign(token.payload, identity));
  server.service.on('beforeAuthorizeRedirect', (_redirect, req) => authorizeRequests.push(new URL(req.url ?? '', 'http://x').searchParams));
  await server.start(opts.port, '127.0.0.1');
  // The library names it http://localhost:PORT; the address it listens on is the one that always works.
  const issuerUrl = `http://127.0.0.1:${server.address().port}`;
  server.issuer.url = issuerUrl;
  return {
    issuerUrl,
    env: (redirectUrl) => ({
      OIDC_ISSUER_URL: issuerUrl,
      OIDC_CLIENT_ID: MOCK_CLIENT.id,
      OIDC_CLIENT_SECRET: MOCK_CLIENT.secret,
      OIDC_REDIRECT_URL: redirectUrl,
    }),
    signInAs: (next) => {
      identity = next;
    },
    authorizeRequests,
    stop: () => server.stop(),
  };
}
