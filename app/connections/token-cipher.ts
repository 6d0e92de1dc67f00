/**
 * Provider tokens encrypted at rest with AES-256-GCM (node:crypto). A stored value is iv (12 bytes) | tag (16) |
 * ciphertext, kept beside the id of the key that made it, so a replica picks the right key at once and a rotation
 * (CONNECTIONS_KEY=NEW,OLD) re-encrypts rows lazily, on their next write. The associated data names the row and
 * column, so a value copied into another user's row, or from the refresh column to the access column, fails to open.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A stored value whose key is no longer configured (removed from CONNECTIONS_KEY), or that fails to authenticate. */
export class UndecryptableToken extends Error {}

/** A short public name for a key: a hash, so it says nothing about the key itself. */
export const keyIdOf = (key: Buffer): string =>
  createHash('sha256').update('account-connections-key\0').update(key).digest('hex').slice(0, 16);

export interface TokenCipher {
  /** The id of the key that encrypts (the first). */
  keyId: string;
  encrypt(plaintext: string, context: string): Buffer;
  decrypt(keyId: string, stored: Buffer, context: string): string;
}

export function createTokenCipher(keys: Buffer[]): TokenCipher {
  const byId = new Map(keys.map((key) => [keyIdOf(key), key]));
  const current = keys[0];
  return {
    keyId: current ? keyIdOf(current) : '',
    encrypt(plaintext, context) {
      if (!current) throw new Error('no CONNECTIONS_KEY configured');
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', current, iv).setAAD(Buffer.from(context));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]);
    },
    decrypt(keyId, stored, context) {
      const key = byId.get(keyId);
      if (!key) throw new UndecryptableToken(`key ${keyId} is not in CONNECTIONS_KEY`);
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, stored.subarray(0, IV_BYTES)).setAAD(Buffer.from(context));
        decipher.setAuthTag(stored.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
        return Buffer.concat([decipher.update(stored.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch {
        throw new UndecryptableToken('stored token failed authentication');
      }
    },
  };
}
