/** A cart kept in the session: the simplest data that must follow the user across replicas. */
import { Router } from 'express';
import { z } from 'zod';
import { HttpError } from '../http/errors.js';
import { requireCsrf, requireUser } from '../http/guards.js';

export const MAX_CART_ITEMS = 50;
const addItem = z.object({ item: z.string().trim().min(1).max(100) });

export function cartRoutes(): Router {
  const router = Router();
  router.get('/api/cart', requireUser, (req, res) => {
    res.json({ cart: req.session.cart ?? [] });
  });
  router.post('/api/cart', requireUser, requireCsrf, (req, res) => {
    const parsed = addItem.safeParse(req.body);
    if (!parsed.success) throw new HttpError(400, 'item: a string of 1 to 100 characters');
    const cart = req.session.cart ?? [];
    if (cart.length >= MAX_CART_ITEMS) throw new HttpError(400, `cart is full (at most ${MAX_CART_ITEMS} items)`);
    req.session.cart = [...cart, parsed.data.item];
    res.json({ cart: req.session.cart });
  });
  return router;
}
