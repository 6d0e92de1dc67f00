-- Up Migration
-- Accounts at an OpenID Connect provider, each linked to one users row. An identity is (issuer, subject): the
-- subject alone is only unique per issuer, and e-mail addresses are never used to link accounts (they can change
-- hands, and an unverified one would let a provider's user take over a local account).
CREATE TABLE user_identities (
  issuer text NOT NULL,
  subject text NOT NULL,
  user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (issuer, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);

-- Down Migration
DROP TABLE user_identities;
