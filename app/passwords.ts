/**
 * Password hashing with Node's built-in scrypt; the stored string carries its parameters so they can change later.
 * Every hash of a replica goes through one limiter (app/hash-limiter.ts): at 16 MB and one libuv thread each, hashes
 * left unbounded under a login storm take the memory and the threads that pg's connection handshake needs.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { createHashLimiter, HashQueueFullError } from './hash-limiter.js';
import type { PasswordHashMetrics } from './metrics.js';

const KEY_LENGTH = 64;
const R = 8;
const P = 1;

function derive(password: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, { ...opts, maxmem: 64 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

async function hashPassword(password: string, N: number): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, { N, r: R, p: P });
  return ['scrypt', N, R, P, salt.toString('base64'), key.toString('base64')].join('$');
}

async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, N, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64');
  const actual = await derive(password, Buffer.from(salt, 'base64'), { N: Number(N), r: Number(r), p: Number(p) });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export interface PasswordSettings {
  /** scrypt N for new hashes. */
  scryptCost: number;
  /** Hashes running at once on this replica. */
  concurrency: number;
  /** Hashes waiting for a slot at most; one more is refused with HashQueueFullError. */
  queue: number;
}

export function createPasswords(settings: PasswordSettings, metrics: PasswordHashMetrics) {
  const limiter = createHashLimiter(settings.concurrency, settings.queue);
  metrics.watch(() => limiter.load);
  const limited = async <T>(job: () => Promise<T>): Promise<T> => {
    try {
      return await limiter.run(job);
    } catch (err) {
      if (err instanceof HashQueueFullError) metrics.rejected();
      throw err;
    }
  };
  // Checked when the user does not exist, so both cases take the same time: the same parameters as a real hash, a
  // random salt and a random key that no password derives to. Nothing to compute up front.
  const decoy = ['scrypt', settings.scryptCost, R, P, randomBytes(16).toString('base64'), randomBytes(KEY_LENGTH).toString('base64')].join(
    '$',
  );
  return {
    hash: (password: string) => limited(() => hashPassword(password, settings.scryptCost)),
    /** Checks `password` against `stored`, or against the decoy when there is no stored hash (unknown user). */
    verify: (password: string, stored: string | undefined) => limited(() => verifyPassword(password, stored ?? decoy)),
  };
}

export type Passwords = ReturnType<typeof createPasswords>;
