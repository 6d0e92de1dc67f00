/** The users table: the only place passwords (hashed) are stored. */
import type pg from 'pg';
import type { SessionUser } from './session-data.js';

export interface UserRecord extends SessionUser {
  passwordHash: string;
}

export class UsernameTaken extends Error {}

export function createUsers(pool: pg.Pool) {
  return {
    async create(username: string, passwordHash: string): Promise<SessionUser> {
      try {
        const { rows } = await pool.query<{ id: string; username: string }>(
          'INSERT INTO users (username, password_hash) VALUES ($1, $2) RETURNING id::text, username',
          [username, passwordHash],
        );
        return rows[0]!;
      } catch (err) {
        if ((err as { code?: string }).code === '23505') throw new UsernameTaken(username);
        throw err;
      }
    },
    /**
     * The stored hash as it stands once a password change in progress has committed (FOR SHARE waits for it). A login
     * compares it with the hash it checked, after its session is saved: see app/routes/auth.ts.
     */
    async passwordHashAfterChanges(id: string): Promise<string | undefined> {
      const { rows } = await pool.query<{ hash: string }>('SELECT password_hash AS hash FROM users WHERE id = $1 FOR SHARE', [id]);
      return rows[0]?.hash;
    },
    async find(username: string): Promise<UserRecord | undefined> {
      const { rows } = await pool.query<UserRecord>(
        'SELECT id::text, username, password_hash AS "passwordHash" FROM users WHERE lower(username) = lower($1)',
        [username],
      );
      return rows[0];
    },
  };
}

export type Users = ReturnType<typeof createUsers>;
