-- Up Migration
-- OAuth 2.0 account connections (Strava, Foursquare, ...): one row per user and provider. The tokens are AES-256-GCM
-- ciphertexts made by the app (app/connections/token-cipher.ts) under the key named by key_id; the database never
-- sees them in the clear. The rest is what the page lists, so listing never needs a key.
CREATE TABLE account_connections (
  user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  provider text NOT NULL,
  key_id text NOT NULL,
  access_token bytea NOT NULL,
  refresh_token bytea,
  -- NULL: the provider gave no expiry (Foursquare's tokens do not expire).
  expires_at timestamptz,
  scopes text[] NOT NULL DEFAULT '{}',
  -- Set when a refresh was refused or the stored tokens cannot be decrypted: the user must connect again.
  needs_reconnect boolean NOT NULL DEFAULT false,
  connected_at timestamptz NOT NULL DEFAULT now(),
  refreshed_at timestamptz,
  PRIMARY KEY (user_id, provider)
);

-- Down Migration
DROP TABLE account_connections;
