/**
 * Opaque handles for a user's sessions (GET /api/sessions, DELETE /api/sessions/:handle). Never the session id: that
 * is the bearer secret in the cookie, and a page, a log or a screenshot that showed it would hand the session over.
 *
 * A handle is an HMAC of the session id under a key derived from the session secret: the same on every replica and
 * stable for the session's life, needs no storage (sessions from before this feature have one too), and says nothing
 * about the id without the secret. The first secret makes handles; every secret of a rotation (SESSION_SECRET=NEW,OLD)
 * is accepted, so a handle listed by a replica not yet rotated still ends its session on one that is.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** 128 bits, base64url. */
const HANDLE_LENGTH = 22;

export interface SessionHandles {
  handleOf(sid: string): string;
  /** Whether `handle` names the session `sid`, under any of the secrets. */
  matches(handle: string, sid: string): boolean;
}

export function sessionHandles(secrets: readonly string[]): SessionHandles {
  // A key of its own: the raw secret also signs cookies, and one key for two purposes invites a confusion between them.
  const keys = secrets.map((secret) => createHmac('sha256', secret).update('session handle v1').digest());
  const handle = (key: Buffer, sid: string) => createHmac('sha256', key).update(sid).digest('base64url').slice(0, HANDLE_LENGTH);
  return {
    handleOf: (sid) => handle(keys[0]!, sid),
    matches(given, sid) {
      const sent = Buffer.from(given);
      return keys.some((key) => {
        const expected = Buffer.from(handle(key, sid));
        return sent.length === expected.length && timingSafeEqual(sent, expected);
      });
    },
  };
}
