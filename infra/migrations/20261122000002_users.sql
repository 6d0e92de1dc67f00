-- Up Migration
CREATE TABLE users (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username text NOT NULL,
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
-- Names are unique regardless of case ("Alice" and "alice" are one account).
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));

-- Down Migration
DROP TABLE users;
