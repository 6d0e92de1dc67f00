/** Signs a session id the way express-session does (cookie-signature: s:<id>.<base64 HMAC-SHA256>, unpadded). */
import { createHmac } from 'node:crypto';

export function signedSessionCookie(sid: string, secret: string): string {
  const mac = createHmac('sha256', secret).update(sid).digest('base64').replace(/=+$/, '');
  return encodeURIComponent(`s:${sid}.${mac}`);
}

/** The session id inside a signed cookie value (s:<id>.<signature>, URL-encoded). */
export function sessionIdOf(cookieValue: string): string {
  return /^s:(.+)\.[^.]*$/.exec(decodeURIComponent(cookieValue))![1]!;
}
