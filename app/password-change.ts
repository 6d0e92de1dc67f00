/** POST /api/password's database side: who has a password to change, and the change itself with its endings. */
import type pg from 'pg';
import { inTransaction } from './db.js';
import { SessionEndedError } from './session-store.js';
import { createUserSessions } from './user-sessions.js';

export function createPasswordChange(pool: pg.Pool) {
  return {
    /**
     * Accounts made by an OpenID Connect sign-in (app/identities.ts) sign in through their provider only: their stored
     * hash is of a random password nobody knows, so there is nothing to change.
     */
    async signsInWithProvider(userId: string): Promise<boolean> {
      const { rows } = await pool.query('SELECT 1 FROM user_identities WHERE user_id = $1 LIMIT 1', [userId]);
      return rows.length > 0;
    },
    /**
     * In one transaction: the new hash, and every session of the user ended, the current one too (the caller starts a
     * new one). If the current session was ended meanwhile (another device, an operator), nothing changes and the
     * request gets 401 like any request of an ended session. Returns how many other sessions were ended.
     */
    change(userId: string, currentSid: string, passwordHash: string): Promise<number> {
      return inTransaction(pool, async (client) => {
        const sessions = createUserSessions(client);
        if (!(await sessions.end(userId, currentSid))) throw new SessionEndedError();
        await client.query('UPDATE users SET password_hash = $2 WHERE id = $1', [userId, passwordHash]);
        return sessions.endAll(userId);
      });
    },
  };
}

export type PasswordChange = ReturnType<typeof createPasswordChange>;
