/**
 * Coalesced session reads: every `read(sid)` started in the same turn of the event loop goes to PostgreSQL as one
 * `WHERE sid = ANY($1)` query, with DataLoader (https://github.com/graphql/dataloader).
 *
 * Most of a one-row primary-key read's cost is fixed per query (pg's query message and promise, PostgreSQL's parse,
 * plan and executor start, a round trip), so under load one query for N sessions costs little more than one for one.
 * - The batch is sent from `setImmediate`: requests from different sockets arrive in different callbacks of one poll
 *   phase, which DataLoader's default (a microtask) would never batch. A lone read waits for nothing but the end of
 *   its turn.
 * - No cache: every read starts after its request arrived and reads the table, so a logout answered before the request
 *   arrived is always seen.
 * - Each read gets its own object (its own JSON.parse): the store marks session objects per request.
 */
import DataLoader from 'dataloader';
import type { SessionData } from 'express-session';
import type pg from 'pg';

export interface StoredSession {
  sess: SessionData;
  /** The row's expiry, ms since the epoch. */
  expireMs: number;
}

export interface SessionReaderOptions {
  pool: pg.Pool;
  table: string;
  /** Most sessions in one query; more reads in one turn go out as several queries. */
  maxBatchSize: number;
  /** Called with the size of each batch that is sent. */
  onBatch?: (size: number) => void;
}

type Row = { sid: string; sess: string; expire_ms: number };

export function createSessionReader({
  pool,
  table,
  maxBatchSize,
  onBatch,
}: SessionReaderOptions): (sid: string) => Promise<StoredSession | null> {
  const loader = new DataLoader<string, StoredSession | null>(
    async (sids) => {
      onBatch?.(sids.length);
      // `expire` is a timestamp without time zone holding UTC: its epoch is the instant (whatever Node's TZ).
      // `sess::text`: parsed below, once per read, so that two requests of one session never share an object.
      // Unnamed, like every query here (a named statement breaks transaction poolers before PgBouncer 1.21).
      const { rows } = await pool.query<Row>(
        `SELECT sid, sess::text AS sess, extract(epoch FROM expire)::float8 * 1000 AS expire_ms FROM "${table}"
         WHERE sid = ANY($1) AND expire >= to_timestamp($2)`,
        [sids, Math.ceil(Date.now() / 1000)],
      );
      const bySid = new Map(rows.map((row) => [row.sid, row]));
      return sids.map((sid) => {
        const row = bySid.get(sid);
        return row ? { sess: JSON.parse(row.sess) as SessionData, expireMs: row.expire_ms } : null;
      });
    },
    { cache: false, maxBatchSize, batchScheduleFn: (send) => setImmediate(send) },
  );
  return (sid) => loader.load(sid);
}
