/**
 * The signed-in user's sessions: list them, end one, end every other one. Sessions are named by opaque handles
 * (app/session-handles.ts), never by their ids. Ending deletes the rows (app/user-sessions.ts), final on every replica.
 */
import { Router } from 'express';
import { HttpError } from '../http/errors.js';
import { requireCsrf, requireUser } from '../http/guards.js';
import type { SessionHandles } from '../session-handles.js';
import type { UserSessions } from '../user-sessions.js';
import { endCurrentSession } from './auth.js';

export function sessionRoutes(sessions: UserSessions, handles: SessionHandles, cookieName: string): Router {
  const router = Router();

  // A read: it never changes the session.
  router.get('/api/sessions', requireUser, async (req, res) => {
    const list = await sessions.list(req.session.user!.id);
    res.json({
      sessions: list.map(({ sid, createdAt, lastActiveAt, expiresAt, device }) => ({
        handle: handles.handleOf(sid),
        createdAt,
        lastActiveAt,
        expiresAt,
        device,
        current: sid === req.sessionID,
      })),
    });
  });

  // The current session may be ended too: that is a logout (the cookie is cleared).
  router.delete('/api/sessions/:handle', requireUser, requireCsrf, async (req, res) => {
    const userId = req.session.user!.id;
    const handle = String(req.params.handle);
    const sid = (await sessions.list(userId)).find((s) => handles.matches(handle, s.sid))?.sid;
    if (sid === req.sessionID) return endCurrentSession(req, res, cookieName);
    // Unknown, another user's, or ended meanwhile: the same answer, so a handle tells nothing about other users.
    if (!sid || !(await sessions.end(userId, sid))) throw new HttpError(404, 'no such session');
    res.status(204).end();
  });

  router.post('/api/sessions/end-others', requireUser, requireCsrf, async (req, res) => {
    res.json({ ended: await sessions.endAll(req.session.user!.id, req.sessionID) });
  });

  return router;
}
