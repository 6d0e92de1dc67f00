-- Up Migration
-- Cart items, one row each, kept per user rather than in the session: parallel adds on different replicas each
-- insert their own row (a session is written whole, so the last writer would win), and the cart follows the user
-- across sessions. app/carts.ts locks the user's row while it checks the item limit and adds.
CREATE TABLE cart_items (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  item text NOT NULL,
  added_at timestamptz NOT NULL DEFAULT now()
);
-- A cart is read in insertion order: id order within one user.
CREATE INDEX cart_items_user ON cart_items (user_id, id);

-- Down Migration
DROP TABLE cart_items;
