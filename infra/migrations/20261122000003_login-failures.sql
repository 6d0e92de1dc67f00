-- Up Migration
-- Failed logins, shared by every replica so a throttle cannot be dodged by landing on another one.
-- key is 'user:<lower(username)>' or 'ip:<address>'.
CREATE TABLE login_failures (
  key text NOT NULL,
  failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_key_time ON login_failures (key, failed_at);

-- Down Migration
DROP TABLE login_failures;
