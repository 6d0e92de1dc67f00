/**
 * A benchmark replica: this app started as app/server.ts starts it (app/start-server.ts), on another session store, so
 * the bench compares stores and nothing else. BENCH_STORE=memory (express-session's MemoryStore), pg-defaults
 * (connect-pg-simple as it comes: touch on every request, its own prune timer) or redis (connect-redis on REDIS_URL,
 * its defaults). The rest of the environment is the app's (app/config.ts). This project's own configuration is
 * app/server.ts itself, not this file.
 */
import session, { type Store } from 'express-session';
import connectPgSimple from 'connect-pg-simple';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import type pg from 'pg';
import type { Logger } from 'pino';
import { loadConfig } from '../../app/config.js';
import { startServer } from '../../app/start-server.js';

const kind = process.env.BENCH_STORE;
if (kind !== 'memory' && kind !== 'pg-defaults' && kind !== 'redis') {
  console.error('BENCH_STORE must be memory, pg-defaults or redis');
  process.exit(1);
}

/** What to close after the store (the Redis connection; the pool is closed by the shutdown). */
let after: (() => Promise<unknown>) | undefined;

async function createStore(db: pg.Pool, logger: Logger): Promise<Store> {
  if (kind === 'memory') return new session.MemoryStore();
  // Only what the migration already decided (table name, no table creation); everything else is the default.
  if (kind === 'pg-defaults') return new (connectPgSimple(session))({ pool: db, tableName: 'session', createTableIfMissing: false });
  const client = createClient({ url: process.env.REDIS_URL });
  client.on('error', (err: Error) => logger.warn({ err: { message: err.message } }, 'redis client error'));
  await client.connect();
  after = () => client.quit();
  return new RedisStore({ client });
}

const running = await startServer(loadConfig(), { createStore });
process.once('SIGTERM', () => {
  void running
    .stop()
    .then(after)
    .finally(() => process.exit(0));
});
