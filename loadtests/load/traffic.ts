/**
 * One virtual user's mixed traffic as an autocannon request cycle: read /api/me, read the cart, write to the cart,
 * read the cart again. Every answer is checked: the status, the user, and that the cart holds exactly the user's
 * own writes, whichever replica answered. The cart belongs to the account, so a user whose cart is full signs up
 * again as a new account (register: a new session, the old one destroyed, an empty cart).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Request } from 'autocannon';
import type { VirtualUser } from '../users.js';
import { PASSWORD } from '../users.js';
import type { Recorder } from './recorder.js';

type Headers = IncomingHttpHeaders | undefined;

/** autocannon passes the server's header names as sent (X-Instance or x-instance): look them up in any case. */
export function header(headers: Headers, name: string): string | string[] | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers ?? {})) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the app's JSON answers, read field by field by the scenarios
function json(body: string): any {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

type Action = { kind: 'me' | 'read-cart' } | { kind: 'write'; item: string } | { kind: 'sign-up' };

/** The request cycle of one user; `lost` is called by keep-alive-fix for a request that got no answer. */
export function userTraffic(user: VirtualUser, rec: Recorder): { requests: Request[]; lost: (kind: string) => void } {
  let current: Action = { kind: 'me' };
  let method = 'GET';
  let path = '/api/me';

  const send = (action: Action, request: Request): Request => {
    current = action;
    method = request.method ?? 'GET';
    path = request.path ?? '/';
    return request;
  };
  const sessionHeaders = () => ({ cookie: user.cookie, 'x-csrf-token': user.csrfToken });

  const fail = (kind: string, detail = '') => {
    rec.failure(method, path, kind, detail);
    // A write without a clean answer may or may not be in the cart.
    if (current.kind === 'write') user.unsure.add(current.item);
  };

  /** Common checks; returns the parsed body when the status is the expected 200. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as json() above
  const answered = (status: number, body: string, headers: Headers): any => {
    rec.instance(header(headers, 'x-instance') as string | undefined);
    if (status === 200) return json(body) ?? (fail('malformed body', body), undefined);
    // After a sign-up without a clear answer the old session may be gone: a 401 then is the test's doing, not a loss.
    if (status === 401 && current.kind !== 'sign-up' && !user.signUp) {
      rec.sessionLost(user.username);
      fail('session lost (401)');
    } else {
      fail(`HTTP ${status}`, body);
    }
    return undefined;
  };

  const checkCart = (status: number, body: string, _ctx: object, headers: Headers) => {
    const parsed = answered(status, body, headers);
    if (parsed && !user.cartMatches(parsed.cart)) {
      fail('cart does not hold the user’s own writes', `expected ${JSON.stringify(user.cart)}, got ${JSON.stringify(parsed.cart)}`);
    }
  };

  const requests: Request[] = [
    {
      method: 'GET',
      path: '/api/me',
      setupRequest: (req) => send({ kind: 'me' }, { ...req, headers: sessionHeaders() }),
      onResponse: (status, body, _ctx, headers) => {
        const parsed = answered(status, body, headers);
        if (parsed && parsed.user?.username !== user.username) fail('another user’s session', body);
      },
    },
    {
      method: 'GET',
      path: '/api/cart',
      setupRequest: (req) => send({ kind: 'read-cart' }, { ...req, headers: sessionHeaders() }),
      onResponse: checkCart,
    },
    {
      method: 'POST',
      path: '/api/cart',
      setupRequest: (req) => {
        const headers = { ...sessionHeaders(), 'content-type': 'application/json' };
        if (user.cartFull || user.signUp) {
          const { username, via } = user.nextSignUp();
          const body = JSON.stringify({ username, password: PASSWORD });
          return send(
            { kind: 'sign-up' },
            { ...req, path: `/api/${via}`, headers: { cookie: user.cookie, 'content-type': 'application/json' }, body },
          );
        }
        const item = user.nextItem();
        return send({ kind: 'write', item }, { ...req, headers, body: JSON.stringify({ item }) });
      },
      onResponse: (status, body, _ctx, headers) => {
        const action = current;
        if (action.kind === 'sign-up') {
          rec.instance(header(headers, 'x-instance') as string | undefined);
          const parsed = json(body) ?? {};
          // 201 (register), 200 (login), or 409: the register sent earlier went through unanswered; log in next time.
          if (!user.signUpAnswered(status, header(headers, 'set-cookie'), parsed)) fail(`HTTP ${status}`, body);
          return;
        }
        if (action.kind === 'write' && status === 200) user.cart.push(action.item);
        checkCart(status, body, _ctx, headers);
      },
    },
    {
      method: 'GET',
      path: '/api/cart',
      setupRequest: (req) => send({ kind: 'read-cart' }, { ...req, headers: sessionHeaders() }),
      onResponse: checkCart,
    },
  ];
  return { requests, lost: (kind) => fail(kind) };
}
