/**
 * POST /api/password: a new password, checked and hashed as at registration, ends every other session of the user;
 * the current session continues under a new id (no request of the old id can save it back).
 */
import { Router } from 'express';
import { z } from 'zod';
import { HttpError } from '../http/errors.js';
import { requireCsrf, requireUser } from '../http/guards.js';
import type { Passwords } from '../passwords.js';
import type { Users } from '../users.js';
import type { LoginThrottle } from '../login-throttle.js';
import type { PasswordChange } from '../password-change.js';
import { checkAttempt, newPassword, parse, startSession } from './auth.js';

const change = z.object({ currentPassword: z.string().min(1, 'currentPassword: required').max(200), newPassword });

export function passwordRoutes(users: Users, changes: PasswordChange, throttle: LoginThrottle, passwords: Passwords): Router {
  return Router().post('/api/password', requireUser, requireCsrf, async (req, res) => {
    const body = parse(change, req.body);
    const user = req.session.user!;
    if (await changes.signsInWithProvider(user.id)) {
      throw new HttpError(409, 'this account signs in through its identity provider and has no password to change');
    }
    // Guessing the current password from a stolen session counts against the same limits as guessing it at login.
    const attempt = await throttle.begin(user.username, req.ip ?? 'unknown');
    if (attempt.retryAfter > 0) {
      throw new HttpError(429, 'too many wrong passwords, try again later', { 'Retry-After': String(attempt.retryAfter) });
    }
    const found = await users.find(user.username);
    if (found?.id !== user.id || !(await checkAttempt(attempt, passwords.verify(body.currentPassword, found.passwordHash)))) {
      throw new HttpError(403, 'wrong current password'); // the attempt stays counted
    }
    await attempt.succeeded();
    // Hashed before the change's transaction takes a pool client, never while holding one.
    const passwordHash = await passwords.hash(body.newPassword);
    const ended = await changes.change(user.id, req.sessionID, passwordHash);
    const csrfToken = await startSession(req, user);
    res.json({ user: { username: user.username }, csrfToken, endedSessions: ended });
  });
}
