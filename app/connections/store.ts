/** The account_connections table: tokens sealed by the cipher on the way in, opened only to refresh them. */
import type pg from 'pg';
import { inTransaction } from '../db.js';
import { UndecryptableToken, type TokenCipher } from './token-cipher.js';

export interface Tokens {
  accessToken: string;
  /** Absent: the provider issued none (or, after a refresh, kept the old one). */
  refreshToken?: string;
  expiresAt?: Date;
  scopes: string[];
}

export interface ConnectionSummary {
  provider: string;
  connectedAt: string;
  scopes: string[];
  expiresAt: string | null;
  status: 'valid' | 'expired' | 'needs-reconnect';
}

export type RefreshResult =
  | { outcome: 'not-connected' }
  | { outcome: 'needs-reconnect'; reason: string }
  | { outcome: 'fresh' | 'refreshed'; connection: ConnectionSummary };

/** What a refresh at the provider gave: new tokens, or its refusal (an OAuth error code such as invalid_grant). */
export type Renewal = Tokens | { refused: string };

// A token that expires within this margin is refreshed already: it could expire on its way to the provider's API.
const REFRESH_MARGIN = '60 seconds';

const SUMMARY = `provider, to_char(connected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "connectedAt", scopes,
  to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "expiresAt",
  CASE WHEN needs_reconnect THEN 'needs-reconnect' WHEN expires_at <= now() THEN 'expired' ELSE 'valid' END AS status`;

export function createConnectionStore(pool: pg.Pool, cipher: TokenCipher) {
  // Binds each ciphertext to its row and column (the cipher's associated data).
  const context = (userId: string, provider: string, column: 'access' | 'refresh') => `${userId}/${provider}/${column}`;
  const seal = (userId: string, provider: string, tokens: Tokens) => ({
    access: cipher.encrypt(tokens.accessToken, context(userId, provider, 'access')),
    refresh: tokens.refreshToken === undefined ? null : cipher.encrypt(tokens.refreshToken, context(userId, provider, 'refresh')),
  });
  const markNeedsReconnect = (db: pg.PoolClient, userId: string, provider: string) =>
    db.query('UPDATE account_connections SET needs_reconnect = true WHERE user_id = $1 AND provider = $2', [userId, provider]);

  return {
    /** The user's connections to the given providers, in name order. Never a token. */
    async list(userId: string, providers: string[]): Promise<ConnectionSummary[]> {
      const { rows } = await pool.query<ConnectionSummary>(
        `SELECT ${SUMMARY} FROM account_connections WHERE user_id = $1 AND provider = ANY($2) ORDER BY provider`,
        [userId, providers],
      );
      return rows;
    },

    /** Connects (or connects again): the new tokens replace whatever was stored. */
    async save(userId: string, provider: string, tokens: Tokens): Promise<void> {
      const sealed = seal(userId, provider, tokens);
      await pool.query(
        `INSERT INTO account_connections (user_id, provider, key_id, access_token, refresh_token, expires_at, scopes)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (user_id, provider) DO UPDATE SET key_id = EXCLUDED.key_id, access_token = EXCLUDED.access_token,
           refresh_token = EXCLUDED.refresh_token, expires_at = EXCLUDED.expires_at, scopes = EXCLUDED.scopes,
           needs_reconnect = false, connected_at = now(), refreshed_at = NULL`,
        [userId, provider, cipher.keyId, sealed.access, sealed.refresh, tokens.expiresAt ?? null, tokens.scopes],
      );
    },

    async remove(userId: string, provider: string): Promise<boolean> {
      const { rowCount } = await pool.query('DELETE FROM account_connections WHERE user_id = $1 AND provider = $2', [userId, provider]);
      return rowCount === 1;
    },

    /**
     * Refreshes the access token if it has expired (or is about to), with `renew` at the provider. The row stays
     * locked meanwhile, so replicas refreshing the same connection at once take turns and the later ones find it fresh:
     * providers that rotate refresh tokens (Strava) would refuse a second use of the old one.
     */
    refresh(userId: string, provider: string, renew: (refreshToken: string) => Promise<Renewal>): Promise<RefreshResult> {
      return inTransaction(pool, async (db): Promise<RefreshResult> => {
        const { rows } = await db.query<{ key_id: string; refresh_token: Buffer | null; needs_reconnect: boolean; due: boolean }>(
          `SELECT key_id, refresh_token, needs_reconnect, expires_at <= now() + interval '${REFRESH_MARGIN}' AS due
           FROM account_connections WHERE user_id = $1 AND provider = $2 FOR UPDATE`,
          [userId, provider],
        );
        const row = rows[0];
        if (!row) return { outcome: 'not-connected' };
        if (row.needs_reconnect) return { outcome: 'needs-reconnect', reason: 'the provider refused an earlier refresh' };
        const summary = async () =>
          (
            await db.query<ConnectionSummary>(`SELECT ${SUMMARY} FROM account_connections WHERE user_id = $1 AND provider = $2`, [
              userId,
              provider,
            ])
          ).rows[0]!;
        if (!row.due) return { outcome: 'fresh', connection: await summary() };
        let refreshToken: string;
        try {
          if (!row.refresh_token) throw new UndecryptableToken('no refresh token');
          refreshToken = cipher.decrypt(row.key_id, row.refresh_token, context(userId, provider, 'refresh'));
        } catch (err) {
          if (!(err instanceof UndecryptableToken)) throw err;
          await markNeedsReconnect(db, userId, provider);
          return {
            outcome: 'needs-reconnect',
            reason: row.refresh_token ? 'the stored tokens cannot be decrypted with CONNECTIONS_KEY' : 'the provider gave no refresh token',
          };
        }
        const renewed = await renew(refreshToken); // throws when the provider cannot be reached: rolled back, nothing marked
        if ('refused' in renewed) {
          await markNeedsReconnect(db, userId, provider);
          return { outcome: 'needs-reconnect', reason: `the provider refused the refresh: ${renewed.refused}` };
        }
        // Written under the current key: a rotation re-encrypts each row on its next refresh.
        const sealed = seal(userId, provider, { ...renewed, refreshToken: renewed.refreshToken ?? refreshToken });
        await db.query(
          `UPDATE account_connections SET key_id = $3, access_token = $4, refresh_token = $5, expires_at = $6,
             scopes = CASE WHEN cardinality($7::text[]) > 0 THEN $7 ELSE scopes END, refreshed_at = now()
           WHERE user_id = $1 AND provider = $2`,
          [userId, provider, cipher.keyId, sealed.access, sealed.refresh, renewed.expiresAt ?? null, renewed.scopes],
        );
        return { outcome: 'refreshed', connection: await summary() };
      });
    },
  };
}

export type ConnectionStore = ReturnType<typeof createConnectionStore>;
