/** Route guards: a logged-in user, and a CSRF synchronizer token on state-changing requests. */
import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HttpError } from './errors.js';

export const requireUser: RequestHandler = (req, _res, next) => next(req.session?.user ? undefined : new HttpError(401, 'not logged in'));

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export const requireCsrf: RequestHandler = (req, _res, next) => {
  const sent = req.get('x-csrf-token');
  const expected = req.session?.csrfToken;
  next(sent && expected && same(sent, expected) ? undefined : new HttpError(403, 'missing or invalid X-CSRF-Token'));
};
