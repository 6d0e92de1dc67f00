/**
 * A storm of logins without a cookie, at the production scrypt cost (16 MB and about 50 ms of CPU per hash), on one
 * real app instance against a real PostgreSQL. Each replica hashes at most PASSWORD_HASH_CONCURRENCY passwords at once
 * with at most PASSWORD_HASH_QUEUE waiting; beyond that the answer is 503 + Retry-After with a stable code, never
 * another status. Distinct users, so the per-user login throttle stays out of it; the 30 attempts from one address
 * stay under the per-IP limit (50 by default), and a refused attempt does not count there either.
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type AppInstance } from '../helpers/app-instance.js';
import { HttpClient, PASSWORD, uniqueName, type Reply } from '../helpers/http-client.js';
import { migratedDatabase } from '../helpers/database.js';

let databaseUrl: string;
before(async () => {
  databaseUrl = await migratedDatabase();
});

/** Registers `count` users one after another (each registration is one hash). */
async function registeredUsers(app: AppInstance, count: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const username = uniqueName('storm');
    const res = await new HttpClient(app.url).post('/api/register', { username, password: PASSWORD });
    assert.equal(res.status, 201, `registering ${username}`);
    names.push(username);
  }
  return names;
}

/** All at once, each from a fresh client without a cookie. */
const loginStorm = (app: AppInstance, names: string[]) =>
  Promise.all(names.map((username) => new HttpClient(app.url).post('/api/login', { username, password: PASSWORD })));

const statuses = (replies: Reply[]) => replies.map((r) => r.status).sort((a, b) => a - b);

async function metric(app: AppInstance, name: string): Promise<number> {
  const text = await (await fetch(`${app.metricsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  assert.ok(line, `${name} is exported`);
  return Number(line.split(' ').pop());
}

describe('Login storm', () => {
  it('When 30 logins arrive at once on a replica that hashes one at a time with 2 waiting, then each gets 200 or 503 + Retry-After with code password_hashing_busy, and a refused user logs in afterwards', async (t) => {
    const app = await startApp(t, databaseUrl, { PASSWORD_HASH_CONCURRENCY: '1', PASSWORD_HASH_QUEUE: '2' });
    assert.equal(app.config.passwordScryptCost, 16384, 'the production scrypt cost');
    const names = await registeredUsers(app, 30);

    const replies = await loginStorm(app, names);

    const refused = replies.filter((r) => r.status === 503);
    assert.ok(
      replies.some((r) => r.status === 200),
      `some logins succeed: ${statuses(replies)}`,
    );
    assert.ok(refused.length > 0, `some logins are refused: ${statuses(replies)}`);
    for (const res of replies) {
      if (res.status === 200) continue;
      assert.equal(res.status, 503, `only 200 or 503: ${statuses(replies)}`);
      assert.deepEqual(res.body, { error: 'too many sign-ins at once, try again shortly', code: 'password_hashing_busy' });
      const retryAfter = Number(res.headers.get('retry-after'));
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1, `Retry-After in whole seconds: ${res.headers.get('retry-after')}`);
    }
    assert.equal(await metric(app, 'password_hashes_rejected_total'), refused.length, 'every refusal is counted');

    // A refused attempt never had its password checked: it is withdrawn from the throttle, and the user gets in.
    const { rows } = await app.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM login_failures');
    assert.equal(rows[0]!.n, 0, 'no attempt of the storm counts as a failed login');
    const refusedUser = names[replies.findIndex((r) => r.status === 503)]!;
    const after = await new HttpClient(app.url).post('/api/login', { username: refusedUser, password: PASSWORD });
    assert.equal(after.status, 200);
    assert.deepEqual(after.body.user, { username: refusedUser });
  });

  it('When 12 logins arrive at once with the default hashing limits, then all of them succeed', async (t) => {
    const app = await startApp(t, databaseUrl);
    assert.equal(app.config.passwordHashing.queue, 32);
    const names = await registeredUsers(app, 12);

    const replies = await loginStorm(app, names);

    assert.deepEqual(statuses(replies), Array(12).fill(200));
    assert.equal(await metric(app, 'password_hashes_rejected_total'), 0);
  });
});
