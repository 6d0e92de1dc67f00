/**
 * One virtual user's mixed traffic as a load-engine script (./engine.ts), in a loop: read /api/me, read the cart,
 * write to the cart, read the cart again. Every answer is checked: the status, the user, and that the cart holds
 * exactly the user's own writes, whichever replica answered. The cart belongs to the account, so a user whose cart is
 * full signs up again as a new account (register: a new session, the old one destroyed, an empty cart).
 */
import type { VirtualUser } from '../users.js';
import { PASSWORD } from '../users.js';
import type { Answer, Script, Step } from './engine.js';
import type { Recorder } from './recorder.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the app's JSON answers, read field by field by the scenarios
function json(body: string): any {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

type Action = { kind: 'me' | 'read-cart' } | { kind: 'write'; item: string } | { kind: 'sign-up' };

/** One request in flight per script: the engine answers (or loses) each step before it asks for the next. */
export function userTraffic(user: VirtualUser, rec: Recorder): Script {
  let position = 0;
  let current: Action = { kind: 'me' };
  const sessionHeaders = () => ({ cookie: user.cookie, 'x-csrf-token': user.csrfToken });
  const send = (action: Action, step: Step): Step => ((current = action), step);
  const read = (action: Action, path: string) => send(action, { method: 'GET', path, headers: sessionHeaders() });
  const write = (): Step => {
    if (user.cartFull || user.signUp) {
      const { username, via } = user.nextSignUp();
      const headers = { cookie: user.cookie, 'content-type': 'application/json' };
      return send(
        { kind: 'sign-up' },
        { method: 'POST', path: `/api/${via}`, headers, body: JSON.stringify({ username, password: PASSWORD }) },
      );
    }
    const item = user.nextItem();
    const headers = { ...sessionHeaders(), 'content-type': 'application/json' };
    return send({ kind: 'write', item }, { method: 'POST', path: '/api/cart', headers, body: JSON.stringify({ item }) });
  };
  const cycle = [
    () => read({ kind: 'me' }, '/api/me'),
    () => read({ kind: 'read-cart' }, '/api/cart'),
    write,
    () => read({ kind: 'read-cart' }, '/api/cart'),
  ];

  const fail = (step: Step, kind: string, detail = '') => {
    rec.failure(step.method, step.path, kind, detail);
    // A write without a clean answer may or may not be in the cart.
    if (current.kind === 'write') user.unsure.add(current.item);
  };

  /** Common checks; returns the parsed body when the status is the expected 200. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as json() above
  const checked = (step: Step, { status, body }: Answer): any => {
    if (status === 200) return json(body) ?? (fail(step, 'malformed body', body), undefined);
    // After a sign-up without a clear answer the old session may be gone: a 401 then is the test's doing, not a loss.
    if (status === 401 && !user.signUp) {
      rec.sessionLost(user.username);
      fail(step, 'session lost (401)');
    } else {
      fail(step, `HTTP ${status}`, body);
    }
    return undefined;
  };

  return {
    next: () => cycle[position++ % cycle.length]!(),
    lost: (step, kind) => fail(step, kind),
    answered(step, answer) {
      rec.response(answer.latencyMs, answer.headers['x-instance'] as string | undefined);
      if (current.kind === 'sign-up') {
        // 201 (register), 200 (login), or 409: the register sent earlier went through unanswered; log in next time.
        if (!user.signUpAnswered(answer.status, answer.headers['set-cookie'], json(answer.body) ?? {})) {
          fail(step, `HTTP ${answer.status}`, answer.body);
        }
        return;
      }
      if (current.kind === 'write' && answer.status === 200) user.cart.push(current.item);
      const parsed = checked(step, answer);
      if (!parsed) return;
      if (current.kind === 'me' && parsed.user?.username !== user.username) fail(step, 'another user’s session', answer.body);
      if (current.kind !== 'me' && !user.cartMatches(parsed.cart)) {
        const detail = `expected ${JSON.stringify(user.cart)}, got ${JSON.stringify(parsed.cart)}`;
        fail(step, 'cart does not hold the user’s own writes', detail);
      }
    },
  };
}
