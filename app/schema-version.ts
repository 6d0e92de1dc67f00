/**
 * The schema this build needs: the newest migration in infra/migrations, read from the directory at startup (the
 * compiled build has it as dist/infra/migrations, copied by `postbuild`). During an upgrade the rollout may overtake
 * the migration: until node-pg-migrate's table lists that migration, a replica answers 503 (readiness included) and
 * waits, instead of failing on tables that do not exist yet. Replicas never migrate: that is one step per deploy.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import type pg from 'pg';

export const migrationsDir = fileURLToPath(new URL('../infra/migrations', import.meta.url));
export const MIGRATIONS_TABLE = 'pgmigrations';
const POLL_MS = 1_000;

/**
 * node-pg-migrate names a migration after its file, without the extension; they run in name order. SQL, or JavaScript
 * for the steps that cannot run in a transaction (CREATE INDEX CONCURRENTLY).
 */
export function migrationNames(dir = migrationsDir): string[] {
  return readdirSync(dir)
    .filter((file) => /\.(sql|js)$/.test(file))
    .map((file) => file.replace(/\.(sql|js)$/, ''))
    .sort();
}

export function neededMigration(dir = migrationsDir): string {
  const names = migrationNames(dir);
  if (names.length === 0) throw new Error(`no migrations in ${dir}`);
  return names.at(-1)!;
}

export interface SchemaGate {
  needed: string;
  /** True once the needed migration has been seen; never checked again after that (migrations are not undone). */
  readonly ready: boolean;
  /** Undefined once ready, else why not; one query while behind. Throws when the database cannot be asked. */
  behind(): Promise<string | undefined>;
}

export function schemaGate(pool: pg.Pool, needed = neededMigration()): SchemaGate {
  let ready = false;
  return {
    needed,
    get ready() {
      return ready;
    },
    async behind() {
      if (ready) return undefined;
      const { latest, has } = await schemaState(pool, needed);
      ready = has;
      return has ? undefined : `database schema is at ${latest ?? 'no migration'}, this build needs ${needed}`;
    },
  };
}

async function schemaState(pool: pg.Pool, needed: string): Promise<{ latest?: string; has: boolean }> {
  try {
    const { rows } = await pool.query<{ latest: string | null; has: boolean }>(
      `SELECT (SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id DESC LIMIT 1) AS latest,
              EXISTS (SELECT 1 FROM ${MIGRATIONS_TABLE} WHERE name = $1) AS has`,
      [needed],
    );
    return { latest: rows[0]!.latest ?? undefined, has: rows[0]!.has };
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') return { has: false }; // no table: no migration has ever run
    throw err;
  }
}

/**
 * Startup while the schema is behind: one warn line saying why, then a poll until the migration is there (undefined)
 * or `timeoutMs` has passed (the one-line reason to exit with). A database that fails meanwhile counts as not yet.
 */
export async function waitForSchema(gate: SchemaGate, why: string, timeoutMs: number, logger: Logger): Promise<string | undefined> {
  logger.warn(`${why}: waiting for the migration (at most ${timeoutMs / 1000} s, SCHEMA_WAIT_SECONDS)`);
  const deadline = Date.now() + timeoutMs;
  let reason: string | undefined = why;
  while (Date.now() < deadline) {
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
    reason = await gate.behind().catch((err: Error) => `the database cannot be asked for its schema (${err.message})`);
    if (!reason) {
      logger.info(`database schema has ${gate.needed}: serving`);
      return undefined;
    }
  }
  return `${reason}: gave up after ${timeoutMs / 1000} s (SCHEMA_WAIT_SECONDS); run the migration once per deploy (npm run migrate, the compose migrate service or the Kubernetes Job)`;
}

/** Until the schema is there, every request after the probes is a 503 (its tables may be missing), never a 500. */
export function refuseUntilSchema(lifecycle: { schema?: SchemaGate }): RequestHandler {
  return (_req, res, next) => {
    if (!lifecycle.schema || lifecycle.schema.ready) return next();
    res.setHeader('Retry-After', '5');
    res.status(503).json({ error: 'this replica waits for a database migration, try again shortly' });
  };
}
