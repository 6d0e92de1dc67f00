/** The user's cart (app/carts.ts): kept per user in PostgreSQL, not in the session, so parallel adds lose nothing. */
import { Router } from 'express';
import { z } from 'zod';
import { HttpError } from '../http/errors.js';
import { requireCsrf, requireUser } from '../http/guards.js';
import { CartFull, type Carts } from '../carts.js';

const addItem = z.object({ item: z.string().trim().min(1).max(100) });

export function cartRoutes(carts: Carts): Router {
  const router = Router();
  router.get('/api/cart', requireUser, async (req, res) => {
    res.json({ cart: await carts.list(req.session.user!.id) });
  });
  // Reads the session and never changes it: no session write, whatever other requests of this user do meanwhile.
  router.post('/api/cart', requireUser, requireCsrf, async (req, res) => {
    const parsed = addItem.safeParse(req.body);
    if (!parsed.success) throw new HttpError(400, 'item: a string of 1 to 100 characters');
    try {
      res.json({ cart: await carts.add(req.session.user!.id, parsed.data.item) });
    } catch (err) {
      if (err instanceof CartFull) throw new HttpError(400, err.message);
      throw err;
    }
  });
  return router;
}
