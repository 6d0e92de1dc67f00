/** Carts, one row per item (cart_items), per user: they follow the user across sessions and replicas. */
import type pg from 'pg';
import { inTransaction } from './db.js';

export class CartFull extends Error {
  constructor(readonly limit: number) {
    super(`cart is full (at most ${limit} items)`);
  }
}

/** Items one cart may hold. */
export const MAX_CART_ITEMS = 50;

export function createCarts(pool: pg.Pool, maxItems = MAX_CART_ITEMS) {
  const list = async (db: pg.Pool | pg.PoolClient, userId: string): Promise<string[]> =>
    (await db.query<{ item: string }>('SELECT item FROM cart_items WHERE user_id = $1 ORDER BY id', [userId])).rows.map((r) => r.item);

  return {
    /** The user's items in the order they were added. */
    list: (userId: string) => list(pool, userId),

    /** Adds an item and returns the whole cart; CartFull when it already holds `maxItems`. */
    add: (userId: string, item: string): Promise<string[]> =>
      inTransaction(pool, async (client) => {
        // Parallel adds for one user take turns here, so the count below includes every add committed before ours:
        // the limit holds on every replica at once. (A count in the same statement as the lock would not see them.)
        // NO KEY: foreign-key checks on the user (its other rows) need not wait.
        await client.query('SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE', [userId]);
        const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM cart_items WHERE user_id = $1', [userId]);
        if (rows[0]!.n >= maxItems) throw new CartFull(maxItems);
        await client.query('INSERT INTO cart_items (user_id, item) VALUES ($1, $2)', [userId, item]);
        return list(client, userId);
      }),
  };
}

export type Carts = ReturnType<typeof createCarts>;
