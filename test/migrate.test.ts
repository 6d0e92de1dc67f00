/** Migrations run once per deployment, and several copies started together on an empty database all succeed. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { emptyDatabase } from './helpers/database.js';
import { migrationNames } from '../app/schema-version.js';

const migrateEntry = fileURLToPath(new URL('../infra/migrate.ts', import.meta.url));

function runMigrate(databaseUrl: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', migrateEntry], {
      env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl },
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe('Migrations', () => {
  it('When three migrate processes start at once on an empty database, then all succeed and the schema is applied once', async () => {
    const url = await emptyDatabase();
    const runs = await Promise.all([runMigrate(url), runMigrate(url), runMigrate(url)]);
    for (const run of runs) assert.equal(run.code, 0, run.output);
    assert.equal(runs.filter((r) => r.output.includes('applied')).length, 1, runs.map((r) => r.output).join('\n'));
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query(
        `SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 'session' ORDER BY ordinal_position`,
      );
      assert.deepEqual(rows, [
        { column_name: 'sid', data_type: 'character varying', is_nullable: 'NO' },
        { column_name: 'sess', data_type: 'json', is_nullable: 'NO' },
        { column_name: 'expire', data_type: 'timestamp without time zone', is_nullable: 'NO' },
        // The session's user, filled by a trigger (infra/migrations/20261201000001_session-user-id.js).
        { column_name: 'user_id', data_type: 'bigint', is_nullable: 'YES' },
      ]);
      const indexes = await client.query(`SELECT indexname FROM pg_indexes WHERE tablename = 'session' ORDER BY 1`);
      assert.deepEqual(
        indexes.rows.map((r) => r.indexname),
        ['IDX_session_expire', 'session_pkey', 'session_user_id'],
      );
      assert.equal((await client.query('SELECT count(*)::int AS n FROM pgmigrations')).rows[0].n, migrationNames().length);
    } finally {
      await client.end();
    }
  });

  it('When migrate runs again, then it reports the database is up to date', async () => {
    const url = await emptyDatabase();
    assert.equal((await runMigrate(url)).code, 0);
    const again = await runMigrate(url);
    assert.equal(again.code, 0);
    assert.match(again.output, /up to date/);
  });
});
