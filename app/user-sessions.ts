/**
 * A user's sessions, found through session.user_id (infra/migrations/20261201000001_session-user-id.js), for the
 * routes (app/routes/sessions.ts, app/routes/password.ts) and the operator command (infra/sessions-cli.ts).
 *
 * Ending a session deletes its row, as a logout does, and that is what makes it final on every replica at once: each
 * request reads its session from the table (no replica caches one), and a request that loaded the session before the
 * DELETE can only save it with an UPDATE, which finds no row and answers 401 (app/session-store.ts).
 */
import type pg from 'pg';
import { SESSION_TABLE } from './session-store.js';

export interface UserSession {
  sid: string;
  /** ISO times; null for what a session made before these fields existed does not hold. */
  createdAt: string | null;
  /** The row's expiry less the session's lifetime: as precise as the throttled touch (SESSION_TOUCH_AFTER_SECONDS). */
  lastActiveAt: string | null;
  expiresAt: string;
  device: string | null;
}

/** The most sessions listed for one user (the most recently active); ending all of them has no limit. */
export const MAX_LISTED = 500;

type Row = { sid: string; created_at: string | null; device: string | null; expire_ms: number; max_age_ms: number | null };

const toSession = (row: Row): UserSession => ({
  sid: row.sid,
  createdAt: row.created_at,
  lastActiveAt: row.max_age_ms === null ? null : new Date(row.expire_ms - row.max_age_ms).toISOString(),
  expiresAt: new Date(row.expire_ms).toISOString(),
  device: row.device,
});

/** Unexpired, as the session reads count it (app/session-reads.ts). */
const LIVE = 'expire >= to_timestamp($2)';
const nowSeconds = () => Math.ceil(Date.now() / 1000);

export function createUserSessions(pool: pg.Pool | pg.PoolClient) {
  return {
    /** The user's live sessions, the most recently active first. */
    async list(userId: string): Promise<UserSession[]> {
      const { rows } = await pool.query<Row>(
        `SELECT sid, sess->>'createdAt' AS created_at, sess->>'device' AS device,
                extract(epoch FROM expire)::float8 * 1000 AS expire_ms, (sess->'cookie'->>'originalMaxAge')::float8 AS max_age_ms
         FROM "${SESSION_TABLE}" WHERE user_id = $1 AND ${LIVE} ORDER BY expire DESC LIMIT ${MAX_LISTED}`,
        [userId, nowSeconds()],
      );
      return rows.map(toSession);
    },
    /** Ends one session of the user; false when it is not (or no longer) theirs. */
    async end(userId: string, sid: string): Promise<boolean> {
      const { rowCount } = await pool.query(`DELETE FROM "${SESSION_TABLE}" WHERE user_id = $1 AND sid = $2`, [userId, sid]);
      return rowCount === 1;
    },
    /** Ends every session of the user but `keepSid`; returns how many were live. */
    async endAll(userId: string, keepSid?: string): Promise<number> {
      const { rows } = await pool.query<{ live: number }>(
        `WITH ended AS (DELETE FROM "${SESSION_TABLE}" WHERE user_id = $1 AND sid IS DISTINCT FROM $3 RETURNING expire)
         SELECT count(*) FILTER (WHERE ${LIVE})::int AS live FROM ended`,
        [userId, nowSeconds(), keepSid ?? null],
      );
      return rows[0]!.live;
    },
  };
}

export type UserSessions = ReturnType<typeof createUserSessions>;
