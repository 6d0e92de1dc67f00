/**
 * Cross-site request forgery and the browser-side defences, against a real replica process on real PostgreSQL:
 * login CSRF (a cross-site form cannot sign a browser in), the synchronizer token, CORS, and helmet's headers.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { freePort } from '../../infra/ports.js';
import { startReplica, waitForReady, type ReplicaProcess } from '../../infra/replica.js';
import { HttpClient, PASSWORD, uniqueName } from '../helpers/http-client.js';
import { migratedDatabase } from '../helpers/database.js';
import { replicaEnv } from '../helpers/replicas.js';

let replica: ReplicaProcess;
let db: pg.Pool;
let attacker: { username: string; password: string };

before(async () => {
  const databaseUrl = await migratedDatabase();
  db = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  replica = startReplica({ port: await freePort(), env: replicaEnv(databaseUrl) });
  await waitForReady(replica);
  attacker = { username: uniqueName('attacker'), password: PASSWORD };
  assert.equal((await new HttpClient(replica.url).post('/api/register', attacker)).status, 201);
});
after(async () => {
  await replica?.stop('SIGKILL');
  await db?.end();
});

const sessionCount = async () => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM session')).rows[0]!.n;

/** What a cross-site <form method=post> can send without a CORS preflight: its three encodings. */
function formBodies(fields: Record<string, string>): Array<{ type: string; body: string }> {
  const boundary = '----form';
  return [
    // enctype=text/plain with a field named `{"username":"…","password":"` makes a body that is valid JSON.
    { type: 'text/plain', body: JSON.stringify(fields) },
    { type: 'application/x-www-form-urlencoded', body: new URLSearchParams(fields).toString() },
    {
      type: `multipart/form-data; boundary=${boundary}`,
      body: `${Object.entries(fields)
        .map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
        .join('')}--${boundary}--\r\n`,
    },
  ];
}

describe('Login CSRF', () => {
  for (const path of ['/api/login', '/api/register']) {
    it(`When a cross-site form posts to ${path}, then 415 JSON, no cookie and no session, even with valid credentials`, async () => {
      const fields = path === '/api/login' ? attacker : { username: uniqueName('forged'), password: PASSWORD };
      const sessionsBefore = await sessionCount();
      for (const { type, body } of formBodies(fields)) {
        const res = await new HttpClient(replica.url).request('POST', path, body, {
          'content-type': type,
          origin: 'https://evil.example',
          'sec-fetch-site': 'cross-site',
        });
        assert.equal(res.status, 415, type);
        assert.deepEqual(res.body, { error: 'Content-Type must be application/json' });
        assert.equal(res.headers.getSetCookie().length, 0, type);
      }
      assert.equal(await sessionCount(), sessionsBefore);
    });
  }

  it('When another site asks to send JSON (CORS preflight), then it is not allowed', async () => {
    const res = await new HttpClient(replica.url).request('OPTIONS', '/api/login', undefined, {
      origin: 'https://evil.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    });
    assert.ok(res.status < 500);
    assert.equal(res.headers.get('access-control-allow-origin'), null);
    assert.equal(res.headers.get('access-control-allow-credentials'), null);
  });

  it('When the page logs in with JSON, then it works (the check refuses only other types)', async () => {
    const res = await new HttpClient(replica.url).post('/api/login', attacker, { 'content-type': 'application/json; charset=utf-8' });
    assert.equal(res.status, 200);
  });
});

describe('Synchronizer token', () => {
  it('When a request carries the CSRF token of another session, then 403 and nothing changes', async () => {
    const victim = new HttpClient(replica.url);
    assert.equal((await victim.post('/api/register', { username: uniqueName('victim'), password: PASSWORD })).status, 201);
    const other = new HttpClient(replica.url);
    assert.equal((await other.post('/api/login', attacker)).status, 200);
    assert.equal((await victim.post('/api/cart', { item: 'forged' }, { 'x-csrf-token': other.csrfToken })).status, 403);
    assert.equal((await victim.post('/api/logout', undefined, { 'x-csrf-token': other.csrfToken })).status, 403);
    assert.deepEqual((await victim.get('/api/cart')).body, { cart: [] });
  });

  it('When a user logs in again, then the token of the previous session no longer works', async () => {
    const client = new HttpClient(replica.url);
    assert.equal((await client.post('/api/login', attacker)).status, 200);
    const previous = client.csrfToken;
    assert.equal((await client.post('/api/login', attacker)).status, 200);
    assert.notEqual(client.csrfToken, previous);
    assert.equal((await client.post('/api/cart', { item: 'x' }, { 'x-csrf-token': previous })).status, 403);
  });
});

describe('Security headers (helmet)', () => {
  for (const path of ['/', '/api/me']) {
    it(`When ${path} is served, then it carries CSP, anti-framing, nosniff and a strict Referrer-Policy`, async () => {
      const res = await new HttpClient(replica.url).get(path);
      const csp = res.headers.get('content-security-policy') ?? '';
      const directives = new Map(
        csp
          .split(';')
          .map((d) => d.trim().split(/\s+/))
          .map(([name, ...values]) => [name, values.join(' ')]),
      );
      assert.equal(directives.get('default-src'), "'self'");
      assert.equal(directives.get('script-src'), "'self'", 'no inline scripts');
      assert.equal(directives.get('object-src'), "'none'");
      assert.equal(directives.get('frame-ancestors'), "'self'", 'no framing by other sites (clickjacking)');
      assert.equal(directives.get('base-uri'), "'self'");
      assert.equal(directives.get('form-action'), "'self'");
      assert.equal(res.headers.get('x-frame-options'), 'SAMEORIGIN');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin');
      assert.equal(res.headers.get('x-powered-by'), null);
    });
  }
});
