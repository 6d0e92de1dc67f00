/**
 * Connections on their way through a provider: state and PKCE verifier wait in the session (PostgreSQL), so the callback
 * may land on any replica. Bounded: at most MAX_PENDING per session (a new one drops the oldest) and each lives TTL_MS,
 * so abandoned attempts cannot grow the session towards SESSION_MAX_BYTES (each takes about 150 bytes).
 */
import type { Session, SessionData } from 'express-session';

export interface PendingConnection {
  provider: string;
  state: string;
  codeVerifier: string;
  /** Epoch ms. */
  expiresAt: number;
}

declare module 'express-session' {
  interface SessionData {
    /** Between /api/connections/:provider/start and its callback, oldest first. */
    connections: PendingConnection[];
  }
}

const MAX_PENDING = 3;
const PENDING_TTL_MS = 10 * 60_000;

type SessionWithData = Session & Partial<SessionData>;

export function addPending(session: SessionWithData, flow: Omit<PendingConnection, 'expiresAt'>, now = Date.now()): void {
  const live = (session.connections ?? []).filter((f) => f.expiresAt > now);
  session.connections = [...live, { ...flow, expiresAt: now + PENDING_TTL_MS }].slice(-MAX_PENDING);
}

/**
 * Takes the pending connection with this state out of the session (one use, whatever happens next), together with
 * every expired one. 'expired' when it was there but too old; undefined when it was not (never, or already used).
 */
export function takePending(
  session: SessionWithData,
  provider: string,
  state: string | null,
  now = Date.now(),
): PendingConnection | 'expired' | undefined {
  const all = session.connections ?? [];
  const found = all.find((f) => f.provider === provider && f.state === state);
  const rest = all.filter((f) => f !== found && f.expiresAt > now);
  if (rest.length) session.connections = rest;
  else delete session.connections;
  if (!found) return undefined;
  return found.expiresAt > now ? found : 'expired';
}
