/** The current user and session. A pure read: it never changes the session. */
import { Router } from 'express';
import { requireUser } from '../http/guards.js';

export function meRoutes(instanceId: string): Router {
  return Router().get('/api/me', requireUser, (req, res) => {
    const { user, createdAt, csrfToken } = req.session;
    res.json({
      user: { username: user!.username },
      instance: instanceId,
      // The store sets this to the row's expiry as it stands once this request is done (app/session-store.ts).
      session: { createdAt, expiresAt: req.session.cookie.expires?.toISOString() ?? null },
      csrfToken,
    });
  });
}
