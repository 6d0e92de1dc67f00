/**
 * The migration that gives sessions their user (infra/migrations/20261201000001_session-user-id.js), run on a table that
 * already holds sessions, as on a live deployment.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { migrate } from '../infra/migrate.js';
import { migrationNames } from '../app/schema-version.js';
import { emptyDatabase } from './helpers/database.js';

const MIGRATION = '20261201000001_session-user-id';

/** The previous build's statement (connect-pg-simple's upsert): it knows nothing of user_id. */
const insertLikeThePreviousBuild = (db: pg.Client, sid: string, sess: object) =>
  db.query(`INSERT INTO "session" (sess, expire, sid) SELECT $1, now() + interval '1 day', $2 ON CONFLICT (sid) DO UPDATE SET sess = $1`, [
    JSON.stringify(sess),
    sid,
  ]);

test('When the migration runs on a table with existing sessions, then each gets its user in an indexed column, and later writes of any build keep it filled', async (t) => {
  const url = await emptyDatabase();
  await migrate({ DATABASE_URL: url }, () => {}, migrationNames().indexOf(MIGRATION));
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  t.after(() => db.end());
  // More rows than one backfill batch, of two users, and sessions without a user (a sign-in in progress).
  await db.query(
    `INSERT INTO "session" (sid, sess, expire)
     SELECT 'old-' || lpad(i::text, 5, '0'), json_build_object('user', json_build_object('id', (i % 2 + 1)::text, 'username', 'u')), now() + interval '1 day'
     FROM generate_series(1, 2500) i`,
  );
  await insertLikeThePreviousBuild(db, 'anonymous', { oidc: { state: 'x' } });

  assert.deepEqual(await migrate({ DATABASE_URL: url }), migrationNames().slice(migrationNames().indexOf(MIGRATION)));

  const counts = await db.query(`SELECT user_id::text, count(*)::int AS n FROM "session" GROUP BY 1 ORDER BY 1 NULLS LAST`);
  assert.deepEqual(counts.rows, [
    { user_id: '1', n: 1250 },
    { user_id: '2', n: 1250 },
    { user_id: null, n: 1 },
  ]);
  const index = await db.query(`SELECT indisvalid FROM pg_index WHERE indexrelid = 'session_user_id'::regclass`);
  assert.deepEqual(index.rows, [{ indisvalid: true }]);

  // A replica of the previous build, still running during the rollout, inserts and saves without the column.
  await insertLikeThePreviousBuild(db, 'during-rollout', { user: { id: '7', username: 'late' } });
  await insertLikeThePreviousBuild(db, 'anonymous', { user: { id: '8', username: 'signed-in-now' } });
  const filled = await db.query(`SELECT sid, user_id::text FROM "session" WHERE sid IN ('during-rollout', 'anonymous') ORDER BY sid`);
  assert.deepEqual(filled.rows, [
    { sid: 'anonymous', user_id: '8' },
    { sid: 'during-rollout', user_id: '7' },
  ]);

  await db.query('SET enable_seqscan = off');
  const plan = await db.query(`EXPLAIN SELECT sid FROM "session" WHERE user_id = 1`);
  assert.match(plan.rows.map((r) => r['QUERY PLAN']).join('\n'), /session_user_id/);
});
