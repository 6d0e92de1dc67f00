/** Register, log in, log out. Each login issues a new session id (regenerate), so a planted id is worthless. */
import { randomBytes } from 'node:crypto';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { HttpError } from '../http/errors.js';
import { requireCsrf, requireUser } from '../http/guards.js';
import type { Passwords } from '../passwords.js';
import { HashQueueFullError } from '../hash-limiter.js';
import { UsernameTaken, type Users } from '../users.js';
import type { LoginAttempt, LoginThrottle } from '../login-throttle.js';
import type { SessionUser } from '../session-data.js';
import { sessionCall } from '../session.js';
import { describeUserAgent } from '../user-agent.js';

/** The rule for every new password (registration, POST /api/password). */
export const newPassword = z.string().min(8, 'password: at least 8 characters').max(200, 'password: at most 200 characters');

const newAccount = z.object({
  username: z.string().regex(/^[A-Za-z0-9_.-]{3,64}$/, 'username: 3 to 64 letters, digits, _ . or -'),
  password: newPassword,
});

const credentials = z.object({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(200),
});

export function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (!result.success) throw new HttpError(400, result.error.issues[0]?.message ?? 'invalid input');
  return result.data;
}

/** Replaces the session (new id, old one destroyed) and stores the user in it. */
export async function startSession(req: Request, user: SessionUser): Promise<string> {
  await sessionCall(req, 'regenerate');
  const csrfToken = randomBytes(32).toString('base64url');
  Object.assign(req.session, { user, csrfToken, createdAt: new Date().toISOString(), device: describeUserAgent(req.get('user-agent')) });
  await sessionCall(req, 'save');
  return csrfToken;
}

/**
 * The password check of a throttled attempt. When this replica is too busy to hash (503), the password was never
 * checked, so the attempt is withdrawn: a login storm must not lock people out as if they had guessed wrong.
 */
export async function checkAttempt(attempt: LoginAttempt, check: Promise<boolean>): Promise<boolean> {
  try {
    return await check;
  } catch (err) {
    if (err instanceof HashQueueFullError) await attempt.withdraw().catch(() => {}); // still counted: only stricter
    throw err;
  }
}

/** Logout: the row deleted, the cookie cleared, 204. */
export async function endCurrentSession(req: Request, res: Response, cookieName: string): Promise<void> {
  await sessionCall(req, 'destroy');
  res.clearCookie(cookieName, { path: '/' });
  res.status(204).end();
}

export function authRoutes(users: Users, throttle: LoginThrottle, cookieName: string, passwords: Passwords): Router {
  const router = Router();

  router.post('/api/register', async (req, res) => {
    const { username, password } = parse(newAccount, req.body);
    let user: SessionUser;
    try {
      user = await users.create(username, await passwords.hash(password));
    } catch (err) {
      if (err instanceof UsernameTaken) throw new HttpError(409, 'username taken');
      throw err;
    }
    const csrfToken = await startSession(req, user);
    res.status(201).json({ user: { username: user.username }, csrfToken });
  });

  router.post('/api/login', async (req, res) => {
    const { username, password } = parse(credentials, req.body);
    const ip = req.ip ?? 'unknown';
    const attempt = await throttle.begin(username, ip);
    if (attempt.retryAfter > 0) {
      throw new HttpError(429, 'too many failed logins, try again later', { 'Retry-After': String(attempt.retryAfter) });
    }
    // No pool client is held from here to the end of the check: pool.query returns its client before the hash.
    const found = await users.find(username);
    const ok = await checkAttempt(attempt, passwords.verify(password, found?.passwordHash));
    if (!found || !ok) throw new HttpError(401, 'wrong username or password'); // the attempt stays counted
    await attempt.succeeded();
    const csrfToken = await startSession(req, { id: found.id, username: found.username });
    // A password change (POST /api/password) that committed after the check above ended every session but could not see
    // this one, saved after its DELETE began: the old password must not keep a session. Either the change's DELETE sees
    // this session, or this read waits for the change and sees the new hash.
    if ((await users.passwordHashAfterChanges(found.id)) !== found.passwordHash) {
      await sessionCall(req, 'destroy');
      throw new HttpError(401, 'wrong username or password');
    }
    res.json({ user: { username: found.username }, csrfToken });
  });

  router.post('/api/logout', requireUser, requireCsrf, (req, res) => endCurrentSession(req, res, cookieName));

  return router;
}
