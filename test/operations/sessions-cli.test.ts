/** The operator command `npm run sessions -- list|revoke --user NAME` (infra/sessions-cli.ts) against a real PostgreSQL. */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { startApp, type AppInstance } from '../helpers/app-instance.js';
import { HttpClient, PASSWORD, uniqueName } from '../helpers/http-client.js';
import { migratedDatabase } from '../helpers/database.js';
import { runSessionsCli } from '../helpers/sessions-cli.js';

let databaseUrl: string;
before(async () => {
  databaseUrl = await migratedDatabase();
});

async function signedInTwice(app: AppInstance): Promise<{ username: string; clients: HttpClient[] }> {
  const username = uniqueName('cli');
  const clients = [new HttpClient(app.url), new HttpClient(app.url)];
  assert.equal((await clients[0]!.post('/api/register', { username, password: PASSWORD }, { 'user-agent': 'curl/8.5.0' })).status, 201);
  assert.equal((await clients[1]!.post('/api/login', { username, password: PASSWORD })).status, 200);
  return { username, clients };
}

describe('The sessions command', () => {
  it("When an operator lists a user's sessions, then it prints one line per live session (times and device, never an id) and exits 0", async (t) => {
    const app = await startApp(t, databaseUrl);
    const { username, clients } = await signedInTwice(app);
    const run = await runSessionsCli(['list', '--user', username.toUpperCase()], { DATABASE_URL: databaseUrl });
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines[0], `2 live session(s) of ${username}`);
    assert.match(lines[1]!, /^created\s+last active\s+expires\s+device$/);
    assert.equal(lines.length, 4);
    assert.match(run.stdout, /curl\n/);
    for (const client of clients)
      assert.ok(!run.stdout.includes(decodeURIComponent(client.cookies.get('sid')!).slice(2, 20)), 'no session id printed');
  });

  it("When an operator revokes a user's sessions, then it says how many and they get 401; a second revoke finds none", async (t) => {
    const app = await startApp(t, databaseUrl);
    const { username, clients } = await signedInTwice(app);
    const run = await runSessionsCli(['revoke', '--user', username], { DATABASE_URL: databaseUrl });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^revoked 2 live session\(s\) of /);
    for (const client of clients) assert.equal((await client.get('/api/me')).status, 401);
    assert.match((await runSessionsCli(['revoke', '--user', username], { DATABASE_URL: databaseUrl })).stdout, /^revoked 0 /);
  });

  it('When the user does not exist, the usage is wrong or the database cannot be reached, then one line on stderr and exit 1, 2 and 1', async () => {
    const unknown = await runSessionsCli(['list', '--user', 'nobody-at-all'], { DATABASE_URL: databaseUrl });
    assert.deepEqual([unknown.code, unknown.stderr], [1, 'sessions: no user named "nobody-at-all"\n']);
    for (const args of [[], ['list'], ['remove', '--user', 'x'], ['list', '--user'], ['list', '--user', 'x', '--all']]) {
      const run = await runSessionsCli(args, { DATABASE_URL: databaseUrl });
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, /usage: sessions list --user NAME \| sessions revoke --user NAME\n$/);
    }
    const down = await runSessionsCli(['list', '--user', 'x'], {
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      PG_CONNECT_TIMEOUT_MS: '500',
    });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /^sessions: failed: .+\n$/);
    const badConfig = await runSessionsCli(['list', '--user', 'x'], { DATABASE_URL: 'mysql://x' });
    assert.equal(badConfig.code, 1);
    assert.match(badConfig.stderr, /^Invalid configuration: DATABASE_URL: .+\n$/);
  });
});
