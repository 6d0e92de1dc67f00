/**
 * The environment of a replica process started by a tool (tests, load tests, bench, profile) rather than by a user:
 * production mode, a session secret made for the run, quiet logs, no drain (nothing balances to it but our nginx or
 * the tool itself). The rest of the settings are app/config.ts's defaults, overridden by `extra`.
 */
import { randomBytes } from 'node:crypto';

/** A session secret made for this run: production refuses every value written in the repository (app/published-secrets.ts). */
export const generatedSecret = (): string => randomBytes(36).toString('base64url');

export function toolReplicaEnv(databaseUrl: string | undefined, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    SESSION_SECRET: generatedSecret(),
    LOG_LEVEL: 'warn',
    SHUTDOWN_DRAIN_MS: '0',
    ...extra,
  };
}
