/** Accounts at OpenID Connect providers (user_identities), each linked to a users row made on first sign-in. */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { inTransaction } from './db.js';
import type { Passwords } from './passwords.js';
import type { SessionUser } from './session-data.js';

const NAME_ATTEMPTS = 5;

/** The same identity's first sign-in finished in parallel (two tabs): undo ours and use that account. */
class LinkedMeanwhile extends Error {}

/** A valid username (3-64 of A-Za-z0-9_.-) from what the provider suggests, e.g. "Jane.Doe" from jane.doe@example.com. */
function baseName(hint: string | undefined): string {
  const cleaned = (hint ?? '')
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50);
  return cleaned.length >= 3 ? cleaned : 'user';
}

export function createIdentities(pool: pg.Pool, passwords: Passwords) {
  const linked = async (db: pg.Pool | pg.PoolClient, issuer: string, subject: string) =>
    (
      await db.query<SessionUser>(
        `SELECT u.id::text, u.username FROM user_identities i JOIN users u ON u.id = i.user_id
         WHERE i.issuer = $1 AND i.subject = $2`,
        [issuer, subject],
      )
    ).rows[0];

  return {
    /** The user linked to issuer + subject; on the first sign-in a new user, named after `nameHint` if that is free. */
    async signIn(issuer: string, subject: string, nameHint: string | undefined): Promise<SessionUser> {
      const existing = await linked(pool, issuer, subject);
      if (existing) return existing;
      // Such a user signs in through the provider only. A hash of a random password, not an empty marker, so a
      // password login for that name takes as long as any other and tells nothing. Hashed (through the replica's limit)
      // before the transaction takes a pool client.
      const passwordHash = await passwords.hash(randomBytes(32).toString('base64url'));
      const base = baseName(nameHint);
      try {
        return await inTransaction(pool, async (client) => {
          let user: SessionUser | undefined;
          for (let i = 0; !user && i < NAME_ATTEMPTS; i++) {
            const name = i === 0 ? base : `${base}-${randomBytes(3).toString('hex')}`;
            ({
              rows: [user],
            } = await client.query<SessionUser>(
              'INSERT INTO users (username, password_hash) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING id::text, username',
              [name, passwordHash],
            ));
          }
          if (!user) throw new Error(`no free username like ${base} after ${NAME_ATTEMPTS} attempts`);
          const link = await client.query(
            'INSERT INTO user_identities (issuer, subject, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
            [issuer, subject, user.id],
          );
          if (link.rowCount === 0) throw new LinkedMeanwhile();
          return user;
        });
      } catch (err) {
        if (err instanceof LinkedMeanwhile) return (await linked(pool, issuer, subject))!;
        throw err;
      }
    },
  };
}

export type Identities = ReturnType<typeof createIdentities>;
