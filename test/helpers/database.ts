/** Each test file gets its own fresh, migrated database on the Postgres that test/run.ts provided. */
import { randomBytes } from 'node:crypto';
import { createDatabase } from '../../infra/postgres.js';
import { migrate } from '../../infra/migrate.js';
import { migrationNames } from '../../app/schema-version.js';

export function serverUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests with `npm test`, which provides a Postgres');
  return url;
}

export async function emptyDatabase(): Promise<string> {
  return createDatabase(serverUrl(), `test_${randomBytes(6).toString('hex')}`);
}

/** Every migration but the newest: the schema of the previous release, behind this build. */
export async function databaseOneMigrationBehind(): Promise<string> {
  const url = await emptyDatabase();
  await migrate({ DATABASE_URL: url }, () => {}, migrationNames().length - 1);
  return url;
}

export async function migratedDatabase(): Promise<string> {
  const url = await emptyDatabase();
  await migrate({ DATABASE_URL: url });
  return url;
}
