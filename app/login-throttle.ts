/**
 * Failed-login throttle per username and per client IP, kept in Postgres so every replica sees the same counts.
 * A key is blocked once it has `max` failures inside the sliding window.
 */
import type pg from 'pg';
import type { Config } from './config.js';

export interface LoginThrottle {
  /** Seconds until the caller may try again, or 0 when not throttled. */
  retryAfter(username: string, ip: string): Promise<number>;
  recordFailure(username: string, ip: string): Promise<void>;
  recordSuccess(username: string): Promise<void>;
}

const userKey = (username: string) => `user:${username.toLowerCase()}`;
const ipKey = (ip: string) => `ip:${ip}`;

export function createLoginThrottle(pool: pg.Pool, limits: Config['loginThrottle']): LoginThrottle {
  const window = `${limits.windowSeconds} seconds`;
  return {
    async retryAfter(username, ip) {
      // For each key over its limit: when does the oldest failure that still counts leave the window?
      const { rows } = await pool.query<{ wait: number | null }>(
        `WITH recent AS (
           SELECT key, failed_at, row_number() OVER (PARTITION BY key ORDER BY failed_at DESC) AS n
           FROM login_failures
           WHERE key = ANY($1) AND failed_at > now() - $2::interval
         )
         SELECT ceil(extract(epoch FROM max(failed_at + $2::interval - now())))::int AS wait
         FROM recent
         WHERE (key = $3 AND n = $4) OR (key = $5 AND n = $6)`,
        [[userKey(username), ipKey(ip)], window, userKey(username), limits.maxPerUser, ipKey(ip), limits.maxPerIp],
      );
      return Math.max(0, rows[0]?.wait ?? 0);
    },
    async recordFailure(username, ip) {
      await pool.query(
        `WITH gone AS (DELETE FROM login_failures WHERE key = ANY($1) AND failed_at < now() - $2::interval)
         INSERT INTO login_failures (key) SELECT unnest($1::text[])`,
        [[userKey(username), ipKey(ip)], window],
      );
    },
    async recordSuccess(username) {
      await pool.query('DELETE FROM login_failures WHERE key = $1', [userKey(username)]);
    },
  };
}
