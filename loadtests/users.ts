/**
 * Virtual users: each registers and logs in once, then keeps its session cookie and CSRF token like a browser tab.
 * Each also keeps a model of its cart (what it has written), to check that any replica shows its own writes.
 * The app keeps a cart per account, so a user whose cart is full signs up again as a new account (`<name>.2`, ...).
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_CART_ITEMS } from '../app/carts.js';

export const PASSWORD = 'load-test-password';
/** The app's cap on a cart; a user whose cart is full signs up again as a new account (new session, empty cart). */
export const CART_LIMIT = MAX_CART_ITEMS;

/** A sign-up under a new name that has had no clear answer yet: register it, or log in if it turns out to exist. */
export interface PendingSignUp {
  username: string;
  via: 'register' | 'login';
}

export class VirtualUser {
  cookie = '';
  csrfToken = '';
  /** Items the server confirmed, in order. */
  cart: string[] = [];
  /** Items whose write got no clear answer (connection lost, 502): they may or may not be in the cart. */
  readonly unsure = new Set<string>();
  /** A sign-up was sent and has had no clear answer yet: the old session may be gone and the new cookie is unknown. */
  signUp: PendingSignUp | undefined;
  /** The account in use: the name given, then `<name>.2`, `<name>.3`, ... after each sign-up. */
  username: string;
  private accounts = 1;
  private writes = 0;

  constructor(readonly name: string) {
    this.username = name;
  }

  /** The sign-up to send now: the pending one, or a new account with the next name. */
  nextSignUp(): PendingSignUp {
    this.signUp ??= { username: `${this.name}.${this.accounts + 1}`, via: 'register' };
    return this.signUp;
  }

  /** The answer to a sign-up request: adopted when it succeeded; a 409 means an unanswered register went through. */
  signUpAnswered(status: number, setCookie: string | string[] | undefined, body: { csrfToken?: unknown }): boolean {
    const pending = this.signUp;
    if (!pending) return false;
    if (status === 409 && pending.via === 'register') {
      pending.via = 'login';
      return true;
    }
    if (status !== 200 && status !== 201) return false;
    this.accounts++;
    this.username = pending.username;
    this.adopt(setCookie, body);
    return true;
  }

  nextItem(): string {
    return `${this.username}#${++this.writes}`;
  }

  get cartFull(): boolean {
    return this.cart.length + this.unsure.size >= CART_LIMIT;
  }

  /** Takes the session from a register/login answer. */
  adopt(setCookie: string | string[] | undefined, body: { csrfToken?: unknown }): void {
    const line = [setCookie ?? []].flat().find((l) => !/^\s*[^=]+=;/.test(l));
    if (!line) throw new Error(`${this.username}: no session cookie in the login answer`);
    this.cookie = line.split(';')[0]!;
    this.csrfToken = String(body.csrfToken ?? '');
    this.cart = [];
    this.unsure.clear();
    this.signUp = undefined;
  }

  /** Is `observed` what this user wrote (confirmed items in order, plus any of the unsure ones)? Settles unsure items. */
  cartMatches(observed: unknown): boolean {
    if (!Array.isArray(observed)) return false;
    this.cart = this.cart.filter((item) => !this.unsure.has(item)); // unsure wins over a confirmation that failed its check
    const confirmedSeen = observed.filter((item) => !this.unsure.has(item));
    const ok = confirmedSeen.length === this.cart.length && confirmedSeen.every((item, i) => item === this.cart[i]);
    if (ok) {
      // An unsure item that shows up was written after all; one still missing stays unsure (it may land late).
      for (const item of observed) this.unsure.delete(item);
      this.cart = observed.slice();
    }
    return ok;
  }
}

interface AuthAnswer {
  status: number;
  setCookie: string[];
  body: { csrfToken?: unknown };
}

async function postJson(url: string, path: string, body: unknown, cookie = ''): Promise<AuthAnswer> {
  const res = await fetch(new URL(path, url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(cookie && { cookie }) },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let parsed: AuthAnswer['body'] = {};
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (a proxy's HTML error page): the status says enough
  }
  return { status: res.status, setCookie: res.headers.getSetCookie(), body: parsed };
}

/** Registers the user (which logs it in), retrying briefly on 5xx and network errors. */
async function register(url: string, user: VirtualUser): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await postJson(url, '/api/register', { username: user.username, password: PASSWORD });
      if (res.status === 201) return user.adopt(res.setCookie, res.body);
      if (res.status < 500 || attempt >= 3) throw new Error(`register ${user.username}: HTTP ${res.status}`);
    } catch (err) {
      if (attempt >= 3) throw err;
    }
    await sleep(200 * attempt);
  }
}

/** Sends the user's pending sign-up (register, or login once the name turned out to exist); returns the HTTP status. */
async function finishSignUp(url: string, user: VirtualUser): Promise<number> {
  for (;;) {
    const { username, via } = user.nextSignUp();
    const res = await postJson(url, `/api/${via}`, { username, password: PASSWORD }, user.cookie);
    user.signUpAnswered(res.status, res.setCookie, res.body);
    if (!user.signUp || res.status !== 409) return res.status;
  }
}

/** A prefix no earlier run used, so runs against the same deployment never collide. */
export function runPrefix(): string {
  return `lt${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
}

/** Creates `count` logged-in users, `concurrency` registrations at a time. */
export async function createUsers(url: string, count: number, prefix: string, concurrency = 16): Promise<VirtualUser[]> {
  const users = Array.from({ length: count }, (_, i) => new VirtualUser(`${prefix}-${i + 1}`));
  let next = 0;
  const worker = async () => {
    while (next < users.length) await register(url, users[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return users;
}

/**
 * GET /api/me for each user, `concurrency` at a time: the statuses, in user order. A user whose sign-up was cut by
 * the end of the load (sent, never answered) finishes it first: its old session may be gone by its own doing.
 */
export async function sessionStatuses(url: string, users: VirtualUser[], concurrency = 16): Promise<number[]> {
  const statuses: number[] = new Array(users.length);
  let next = 0;
  const worker = async () => {
    while (next < users.length) {
      const i = next++;
      if (users[i]!.signUp) await finishSignUp(url, users[i]!);
      const res = await fetch(new URL('/api/me', url), {
        headers: { cookie: users[i]!.cookie },
        signal: AbortSignal.timeout(30_000),
      }).catch(() => undefined);
      statuses[i] = res?.status ?? 0;
      await res?.body?.cancel();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, users.length) }, worker));
  return statuses;
}
