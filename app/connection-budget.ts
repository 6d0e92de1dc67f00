/**
 * Every replica may open PG_POOL_MAX connections, so EXPECTED_REPLICAS of them may ask PostgreSQL for replicas × pool
 * connections. Past max_connections (less the slots reserved for superusers) new connections are refused and requests
 * get 503s under load. A replica cannot count its peers reliably (idle pools hold few connections), so the operator
 * states how many may run (EXPECTED_REPLICAS) and startup compares once.
 */
import type pg from 'pg';

/** The warning to log, or undefined when the pools fit. */
export async function connectionBudgetWarning(pool: pg.Pool, poolMax: number, expectedReplicas: number): Promise<string | undefined> {
  // reserved_connections exists since PostgreSQL 16; current_setting(..., true) is NULL before.
  const { rows } = await pool.query<{ max: number; reserved: number }>(
    `SELECT current_setting('max_connections')::int AS max,
            current_setting('superuser_reserved_connections')::int
              + coalesce(current_setting('reserved_connections', true)::int, 0) AS reserved`,
  );
  const { max, reserved } = rows[0]!;
  const available = max - reserved;
  const wanted = expectedReplicas * poolMax;
  if (wanted <= available) return undefined;
  return (
    `EXPECTED_REPLICAS ${expectedReplicas} × PG_POOL_MAX ${poolMax} = ${wanted} connections may exceed the ${available} PostgreSQL ` +
    `accepts (max_connections ${max} less ${reserved} reserved): lower PG_POOL_MAX, raise max_connections, or put PgBouncer in front`
  );
}
