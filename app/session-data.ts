/** What this app keeps in a session (express-session's SessionData is augmented, not replaced). */
import 'express-session';

export interface SessionUser {
  id: string;
  username: string;
}

declare module 'express-session' {
  interface SessionData {
    user: SessionUser;
    /** Synchronizer token, sent back as X-CSRF-Token on every state-changing request. */
    csrfToken: string;
    /** ISO time of the login that created this session. */
    createdAt: string;
    /** The browser and system that signed in, in short ("Chrome on Linux"; app/user-agent.ts), for GET /api/sessions. */
    device: string;
  }
}
