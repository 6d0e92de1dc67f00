-- Up Migration
-- The table exactly as connect-pg-simple 10 expects it (its table.sql), created once here instead of by
-- each replica (createTableIfMissing races when several replicas start on an empty database).
CREATE TABLE "session" (
  "sid" varchar NOT NULL COLLATE "default",
  "sess" json NOT NULL,
  "expire" timestamp(6) NOT NULL
);
ALTER TABLE "session" ADD CONSTRAINT "session_pkey" PRIMARY KEY ("sid") NOT DEFERRABLE INITIALLY IMMEDIATE;
CREATE INDEX "IDX_session_expire" ON "session" ("expire");

-- Down Migration
DROP TABLE "session";
