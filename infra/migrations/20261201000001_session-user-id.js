// Sessions know their user: session.user_id (the users.id in the session's JSON), indexed, so "this user's sessions"
// (GET /api/sessions, ending them, npm run sessions) reads a few index entries instead of every row's JSON.
//
// Safe on a live table with existing rows, hence JavaScript (pgm.noTransaction) instead of SQL like the others:
// - A nullable column without a default is a catalog change: no table rewrite. (A stored generated column would
//   rewrite every row under an ACCESS EXCLUSIVE lock, blocking every session read for as long as that takes.) Its
//   brief exclusive lock waits at most lock_timeout behind a long transaction, so it never queues every session
//   read behind it for long; the migration then fails and can simply be run again.
// - A trigger fills the column on every INSERT and on every UPDATE of `sess`, whichever build writes: during a
//   rollout the previous build's replicas still insert sessions without knowing the column, and a column written
//   by the new store alone would miss those until their next save, so a revocation would miss them. Touches
//   (UPDATE of `expire` only) do not fire it; a session's user never changes (a login issues a new session id).
// - Existing rows are filled in batches, each its own short transaction, walking the primary key: row locks are
//   held for one batch only, and rows written meanwhile are filled by the trigger.
// - The index is built with CREATE INDEX CONCURRENTLY, which writes keep working through (a plain CREATE INDEX
//   blocks every session write until it is built); it cannot run in a transaction.
// Each step can run again: a run that failed half-way leaves no migration mark, and the next run redoes it.

const BATCH = 1000;

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
export async function up(pgm) {
  pgm.noTransaction();
  await pgm.db.query(`SET lock_timeout = '10s'`);
  await pgm.db.query('ALTER TABLE "session" ADD COLUMN IF NOT EXISTS user_id bigint');
  await pgm.db.query(`CREATE OR REPLACE FUNCTION session_user_id() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- The app stores ids as digits; anything else (no user yet: a sign-in in progress) leaves it null.
      NEW.user_id := CASE WHEN NEW.sess->'user'->>'id' ~ '^[0-9]{1,18}$' THEN (NEW.sess->'user'->>'id')::bigint END;
      RETURN NEW;
    END $$`);
  await pgm.db.query('DROP TRIGGER IF EXISTS session_user_id ON "session"');
  await pgm.db.query(
    'CREATE TRIGGER session_user_id BEFORE INSERT OR UPDATE OF sess ON "session" FOR EACH ROW EXECUTE FUNCTION session_user_id()',
  );
  await pgm.db.query('RESET lock_timeout');

  for (let after = ''; ;) {
    // UPDATE OF sess fires the trigger, which computes the column exactly as for new writes.
    const { rows } = await pgm.db.query(
      `WITH batch AS (SELECT sid FROM "session" WHERE sid > $1 ORDER BY sid LIMIT ${BATCH}),
       filled AS (UPDATE "session" s SET sess = s.sess FROM batch WHERE s.sid = batch.sid AND s.user_id IS NULL AND s.sess->'user' IS NOT NULL)
       SELECT max(sid) AS last FROM batch`,
      [after],
    );
    if (!rows[0].last) break;
    after = rows[0].last;
  }

  // A build that failed half-way leaves an INVALID index behind: drop it and build again.
  await pgm.db.query('DROP INDEX CONCURRENTLY IF EXISTS session_user_id');
  await pgm.db.query('CREATE INDEX CONCURRENTLY session_user_id ON "session" (user_id)');
}

/** @param {import('node-pg-migrate').MigrationBuilder} pgm */
export async function down(pgm) {
  pgm.noTransaction();
  await pgm.db.query('DROP INDEX CONCURRENTLY IF EXISTS session_user_id');
  await pgm.db.query('DROP TRIGGER IF EXISTS session_user_id ON "session"');
  await pgm.db.query('DROP FUNCTION IF EXISTS session_user_id()');
  await pgm.db.query('ALTER TABLE "session" DROP COLUMN IF EXISTS user_id');
}
