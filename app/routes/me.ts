/** The current user and session. A pure read: it never changes the session. */
import { Router } from 'express';
import { requireUser } from '../http/guards.js';

export function meRoutes(instanceId: string): Router {
  return Router().get('/api/me', requireUser, (req, res) => {
    const { user, createdAt, csrfToken } = req.session;
    res.json({
      user: { username: user!.username },
      instance: instanceId,
      session: { createdAt, expiresAt: req.session.cookie.expires?.toISOString() ?? null },
      csrfToken,
    });
  });
}
