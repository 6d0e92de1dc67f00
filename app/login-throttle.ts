/**
 * Failed-login throttle per username and per client IP, kept in Postgres so every replica sees the same counts.
 * A key is blocked once it has `max` failures inside the sliding window.
 *
 * An attempt is written down BEFORE the password is checked and removed again if it succeeds (or is refused).
 * Checking first and recording after the slow scrypt would let a burst of parallel guesses all pass the check
 * before the first failure lands: hundreds of guesses instead of `max`. Counting after our own insert, at most
 * `max` attempts per key go on to the password check, however many run at once on however many replicas.
 */
import type pg from 'pg';
import type { Config } from './config.js';

export interface LoginAttempt {
  /** Seconds until the caller may try again (the attempt is then not counted), or 0 when it may go on. */
  retryAfter: number;
  /** The password was right: forget this name's failures and this attempt. Without it the attempt counts as failed. */
  succeeded(): Promise<void>;
  /** The password was never checked (the replica was too busy to hash it): this attempt does not count. */
  withdraw(): Promise<void>;
}

export interface LoginThrottle {
  begin(username: string, ip: string): Promise<LoginAttempt>;
}

const userKey = (username: string) => `user:${username.toLowerCase()}`;
const ipKey = (ip: string) => `ip:${ip}`;

export function createLoginThrottle(pool: pg.Pool, limits: Config['loginThrottle']): LoginThrottle {
  const window = `${limits.windowSeconds} seconds`;
  // Removes one row of this attempt per key (rows are interchangeable; its own may be gone with the window).
  const forget = (keys: string[], at: string) =>
    pool.query(
      `DELETE FROM login_failures WHERE ctid IN (
         SELECT DISTINCT ON (key) ctid FROM login_failures WHERE key = ANY($1) AND failed_at = $2::timestamptz)`,
      [keys, at],
    );
  return {
    async begin(username, ip) {
      const user = userKey(username);
      const client = ipKey(ip);
      const { rows: inserted } = await pool.query<{ at: string }>(
        `WITH gone AS (DELETE FROM login_failures WHERE key = ANY($1) AND failed_at < now() - $2::interval)
         INSERT INTO login_failures (key) SELECT unnest($1::text[]) RETURNING failed_at::text AS at`,
        [[user, client], window],
      );
      const at = inserted[0]!.at; // one transaction: both rows carry the same now(), to the microsecond
      // A separate statement, so it sees our rows and every other attempt committed before it. For each key with
      // more than `max` rows (ours included): when does the oldest one that still counts leave the window?
      const { rows } = await pool.query<{ wait: number | null }>(
        `WITH recent AS (
           SELECT key, failed_at, row_number() OVER (PARTITION BY key ORDER BY failed_at DESC) AS n
           FROM login_failures
           WHERE key = ANY($1) AND failed_at > now() - $2::interval
         )
         SELECT ceil(extract(epoch FROM max(failed_at + $2::interval - now())))::int AS wait
         FROM recent
         WHERE (key = $3 AND n = $4) OR (key = $5 AND n = $6)`,
        [[user, client], window, user, limits.maxPerUser + 1, client, limits.maxPerIp + 1],
      );
      const retryAfter = Math.max(0, rows[0]?.wait ?? 0);
      if (retryAfter > 0) await forget([user, client], at); // refused attempts do not extend the block
      return {
        retryAfter,
        async succeeded() {
          await pool.query('DELETE FROM login_failures WHERE key = $1', [user]);
          await forget([client], at);
        },
        async withdraw() {
          await forget([user, client], at);
        },
      };
    },
  };
}
