/**
 * Malformed and oversized cookies, headers, bodies, methods and paths, sent byte for byte to a real replica process
 * AND through real nginx in front of it: never a 5xx, never a stack trace, never a file outside app/public, and under
 * /api always a JSON body, including the requests Node's HTTP parser refuses before the app sees them (431, 400).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { startNginx, type NginxHandle } from '../../infra/nginx.js';
import { freePort } from '../../infra/ports.js';
import { startReplica, waitForReady, type ReplicaProcess } from '../../infra/replica.js';
import { rawExchange, rawRequest, type RawReply } from '../helpers/raw-http.js';
import { HttpClient, PASSWORD, uniqueName } from '../helpers/http-client.js';
import { migratedDatabase } from '../helpers/database.js';
import { replicaEnv } from '../helpers/replicas.js';

type Target = 'replica' | 'nginx';
interface Case {
  name: string;
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Send with the logged-in user's cookie and CSRF token. */
  auth?: boolean;
  /** Whole request as bytes (for `path`), when even rawRequest's framing would be too polite. */
  raw?: (host: string) => string;
  /** Expected status; per target where nginx answers by itself. */
  expect?: number | Partial<Record<Target, number>>;
}

const INSTANCE = 'bad-input-replica';
let replica: ReplicaProcess;
let nginx: NginxHandle;
let user: { cookie: string; csrfToken: string; username: string };

before(async () => {
  // Many failed logins come from one address here: the throttle has its own tests.
  const env = replicaEnv(await migratedDatabase(), {
    INSTANCE_ID: INSTANCE,
    LOGIN_MAX_FAILURES_PER_IP: '100000',
    LOGIN_MAX_FAILURES_PER_USER: '100000',
    PASSWORD_SCRYPT_COST: '1024',
  });
  replica = startReplica({ port: await freePort(), env });
  await waitForReady(replica);
  nginx = await startNginx({ port: await freePort(), upstreams: [{ address: `127.0.0.1:${replica.port}` }] });
  const client = new HttpClient(replica.url);
  const username = uniqueName('bad');
  assert.equal((await client.post('/api/register', { username, password: PASSWORD })).status, 201);
  user = { cookie: client.cookieHeader, csrfToken: client.csrfToken, username };
});
after(async () => {
  await nginx?.stop();
  await replica?.stop('SIGKILL');
});

const json = (body: string | Buffer, path = '/api/login', extra: Partial<Case> = {}): Omit<Case, 'name'> => ({
  method: 'POST',
  path,
  headers: { 'content-type': 'application/json' },
  body,
  ...extra,
});
const nobody = () => uniqueName('nobody');
const credentials = (username: unknown, password: unknown = 'wrong password') => JSON.stringify({ username, password });

const cookieCases: Case[] = [
  { name: 'long garbage session cookie', path: '/api/me', headers: { cookie: `sid=${'x'.repeat(4000)}` }, expect: 401 },
  { name: 'percent signs only', path: '/api/me', headers: { cookie: `sid=s%3A${'%'.repeat(100)}` }, expect: 401 },
  { name: 'bytes that are not UTF-8', path: '/api/me', headers: { cookie: 'sid=s%3A\xff\xfe\x80.\xc0' }, expect: 401 },
  { name: 'no name, no value, separators only', path: '/api/me', headers: { cookie: ';;;=;=;=' }, expect: 401 },
  { name: 'a signed-looking value with an empty id', path: '/api/me', headers: { cookie: 'sid=s%3A.abc' }, expect: 401 },
  { name: '500 other cookies around the real one', path: '/api/me', auth: true, expect: 200 },
  { name: '12 KB cookie header', path: '/api/me', headers: { cookie: `a=${'y'.repeat(12_000)}` }, expect: { replica: 401, nginx: 400 } },
  { name: '20 KB cookie header', path: '/api/me', headers: { cookie: `a=${'y'.repeat(20_000)}` }, expect: { replica: 431, nginx: 400 } },
];

const headerCases: Case[] = [
  { name: 'one 20 KB header', path: '/api/me', headers: { 'x-big': 'z'.repeat(20_000) }, expect: { replica: 431, nginx: 400 } },
  {
    name: '4 headers of 6 KB (under nginx, over Node)',
    path: '/api/me',
    headers: Object.fromEntries([1, 2, 3, 4].map((i) => [`x-part-${i}`, 'p'.repeat(6_000)])),
    expect: 431,
  },
  {
    name: '300 small headers',
    path: '/api/me',
    headers: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`x-h-${i}`, 'v'])),
    expect: 401,
  },
  { name: '5 KB X-Request-Id', path: '/api/me', headers: { 'x-request-id': 'r'.repeat(5_000) }, expect: 401 },
  ...['garbage', '1.2.3.4, not an ip', '::::::', '999.999.999.999', ', ,'].map<Case>((xff) => ({
    name: `X-Forwarded-For: ${xff}`,
    ...json(credentials(nobody())),
    headers: { 'content-type': 'application/json', 'x-forwarded-for': xff },
    expect: 401,
  })),
  { name: 'Host of another site', path: '/', headers: { host: 'evil.example' }, expect: 200 },
  { name: 'Content-Length: -1', ...json('{}'), headers: { 'content-type': 'application/json', 'content-length': '-1' }, expect: 400 },
  {
    name: 'bad chunk size',
    path: '/api/login',
    raw: (host) =>
      `POST /api/login HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    expect: 400,
  },
  {
    name: 'gzip that is not gzip',
    ...json('definitely not gzip'),
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    expect: 400,
  },
  {
    name: 'real gzip of JSON',
    ...json(gzipSync(credentials(nobody()))),
    headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
    expect: 401,
  },
  {
    name: 'Transfer-Encoding nobody speaks',
    ...json('{}'),
    headers: { 'content-type': 'application/json', 'transfer-encoding': 'snappy' },
    expect: { replica: 400, nginx: 400 },
  },
  {
    name: 'unknown Content-Encoding',
    ...json('{}'),
    headers: { 'content-type': 'application/json', 'content-encoding': 'snappy' },
    expect: 415,
  },
  { name: 'Content-Type made of separators', ...json('{}'), headers: { 'content-type': ';;;' }, expect: 415 },
  { name: 'JSON in latin1', ...json(credentials('x')), headers: { 'content-type': 'application/json; charset=latin1' }, expect: 415 },
];

const deepArray = `${'['.repeat(5_000)}${']'.repeat(5_000)}`;
const deepObject = `${'{"a":'.repeat(2_500)}1${'}'.repeat(2_500)}`;
const bodyCases: Case[] = [
  { name: 'truncated JSON', ...json('{"username":'), expect: 400 },
  ...['null', '1', '"text"', 'true', '[]', '[1,2]', '{}', ''].map<Case>((body) => ({
    name: `body ${JSON.stringify(body)}`,
    ...json(body),
    expect: 400,
  })),
  { name: '5,000 nested arrays', ...json(deepArray), expect: 400 },
  { name: '2,500 nested objects', ...json(deepObject), expect: 400 },
  { name: '__proto__ carrying the credentials', ...json('{"__proto__":{"username":"admin","password":"x"}}'), expect: 400 },
  {
    name: '__proto__ and constructor.prototype keys',
    ...json(
      `{"username":"nobody-here","password":"wrong password","__proto__":{"isAdmin":true},"constructor":{"prototype":{"polluted":true}}}`,
    ),
    expect: 401,
  },
  ...[{}, [], 42, true, null, 'x'.repeat(65)].map<Case>((username) => ({
    name: `username ${JSON.stringify(username).slice(0, 20)}`,
    ...json(credentials(username)),
    expect: 400,
  })),
  {
    name: 'bytes that are not UTF-8 in a string',
    ...json(Buffer.concat([Buffer.from('{"username":"'), Buffer.from([0xff, 0xfe, 0xc0]), Buffer.from('","password":"wrong password"}')])),
    expect: 401,
  },
  { name: 'NUL in a login name', ...json(credentials('nobody\u0000here')), expect: 400 },
  { name: 'NUL in a new name', ...json(credentials('new\u0000name', PASSWORD), '/api/register'), expect: 400 },
  { name: 'NUL in a cart item', ...json('{"item":"a\\u0000b"}', '/api/cart', { auth: true }), expect: 400 },
  { name: 'lone surrogate in a login name', ...json('{"username":"\\ud800","password":"wrong password"}'), expect: 401 },
  { name: 'byte order mark before JSON', ...json(`\ufeff${credentials(nobody())}`), expect: 401 },
  { name: 'an operator object as a cart item', ...json('{"item":{"$gt":""}}', '/api/cart', { auth: true }), expect: 400 },
  { name: '20 KB JSON (over the app limit)', ...json(credentials('x'.repeat(20_000))), expect: 413 },
  { name: "100 KB JSON (over nginx's limit too)", ...json(credentials('x'.repeat(100_000))), expect: 413 },
  ...[
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/xml',
    'application/jsonx',
  ].map<Case>((type) => ({
    name: `Content-Type ${type}`,
    ...json(credentials(nobody())),
    headers: { 'content-type': type },
    expect: 415,
  })),
  {
    name: 'form post to the cart',
    ...json('item=x', '/api/cart', { auth: true }),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    expect: 415,
  },
];

const methodCases: Case[] = [
  ...['PUT', 'DELETE', 'PATCH', 'TRACE', 'PROPFIND', 'MKCOL', 'PURGE', 'LINK'].flatMap((method) =>
    ['/api/me', '/api/login', '/'].map<Case>((path) => ({ name: `${method} ${path}`, method, path })),
  ),
  { name: 'OPTIONS /api/login', method: 'OPTIONS', path: '/api/login' },
  {
    name: 'unknown method token',
    path: '/api/me',
    raw: (host) => `FROB /api/me HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    expect: 400,
  },
  {
    name: 'lower-case method',
    path: '/api/me',
    raw: (host) => `get /api/me HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
    expect: 400,
  },
  // nginx forwards it as HTTP/1.1 without Host, which the app refuses (400).
  { name: 'HTTP/1.0 without Host', path: '/api/me', raw: () => 'GET /api/me HTTP/1.0\r\n\r\n', expect: { replica: 401, nginx: 400 } },
];

const traversals = [
  '/../app/config.ts',
  '/%2e%2e/app/config.ts',
  '/..%2fconfig.ts',
  '/%2e%2e%2fconfig.ts',
  '/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '/.%2e/.%2e/.%2e/etc/passwd',
  '/style.css/..%2f..%2fconfig.ts',
  '/..%5c..%5cpackage.json',
  '/%252e%252e%252fconfig.ts',
  '//etc/passwd',
  '/app.js%00.html',
  '/%00',
  '/%E0%A4%A',
  '/api/..%2f..%2fapp%2fconfig.ts',
  '/api/%2e%2e/config.ts',
];
const pathCases: Case[] = [
  ...traversals.map<Case>((path) => ({ name: `GET ${path}`, path })),
  { name: '10 KB path', path: `/api/${'a'.repeat(10_000)}`, expect: { replica: 404, nginx: 414 } },
];

/** What must hold for every reply, whatever the input. */
function assertSafe(res: RawReply, c: Case, target: Target) {
  const label = `${target}: ${c.name} -> ${res.status} ${res.body.slice(0, 120)}`;
  assert.ok(res.status >= 200 && res.status < 500, label);
  const expected = typeof c.expect === 'object' ? c.expect[target] : c.expect;
  if (expected !== undefined) assert.equal(res.status, expected, label);
  if (c.path.startsWith('/api')) {
    assert.match(res.headers['content-type'] ?? '', /^application\/json/, label);
    const body = JSON.parse(res.body);
    if (res.status >= 400) assert.equal(typeof body.error, 'string', label);
  }
  assert.doesNotMatch(res.body, /at .*\.(ts|js):\d+|node_modules/, `${label}: no stack trace`);
  // Nothing from outside app/public: source files, /etc/passwd, package.json.
  assert.doesNotMatch(res.body, /loadConfig|root:x:0:0|"dependencies"/, `${label}: no file outside app/public`);
}

function send(base: string, c: Case): Promise<RawReply> {
  if (c.raw) return rawExchange(base, c.raw(new URL(base).host));
  let headers = { ...c.headers };
  if (c.auth) {
    const others = c.name.startsWith('500 other') ? Array.from({ length: 500 }, (_, i) => `c${i}=v${i}`).join('; ') + '; ' : '';
    headers = { ...headers, cookie: `${others}${user.cookie}`, 'x-csrf-token': user.csrfToken };
  }
  return rawRequest(base, { method: c.method, path: c.path, headers, body: c.body });
}

const groups: Array<[string, Case[]]> = [
  ['cookies', cookieCases],
  ['headers', headerCases],
  ['bodies', bodyCases],
  ['methods', methodCases],
  ['paths', pathCases],
];

for (const target of ['replica', 'nginx'] as const) {
  describe(`Bad input, ${target === 'replica' ? 'straight to a replica' : 'through nginx'}`, () => {
    for (const [group, cases] of groups) {
      it(`When ${group} are malformed or oversized, then no 5xx, JSON under /api, nothing outside app/public`, async () => {
        const base = target === 'replica' ? replica.url : nginx.url;
        for (const c of cases) assertSafe(await send(base, c), c, target);
      });
    }

    it('When Node would refuse a request by itself (parse errors, 431, HTTP/1.1 without Host), then the answer is still JSON {error} with X-Instance', async () => {
      const base = target === 'replica' ? replica.url : nginx.url;
      const byName = (name: string) => [...cookieCases, ...headerCases, ...methodCases].find((c) => c.name === name)!;
      const refusedByNode: Array<[string, number, string]> = [
        ['4 headers of 6 KB (under nginx, over Node)', 431, 'request header fields too large'],
        ...(target === 'replica'
          ? ([
              ['20 KB cookie header', 431, 'request header fields too large'],
              ['unknown method token', 400, 'bad request'],
              ['bad chunk size', 400, 'bad request'],
              ['Transfer-Encoding nobody speaks', 400, 'bad request'],
            ] as Array<[string, number, string]>)
          : // nginx answers the others itself; this one it forwards as HTTP/1.1 without Host, a 400 Node would send empty
            [['HTTP/1.0 without Host', 400, 'bad request'] as [string, number, string]]),
      ];
      for (const [name, status, error] of refusedByNode) {
        const res = await send(base, byName(name));
        assert.equal(res.status, status, name);
        assert.deepEqual(JSON.parse(res.body), { error }, name);
        assert.match(res.headers['content-type'] ?? '', /^application\/json/, name);
        assert.equal(res.headers['x-instance'], INSTANCE, `${name}: answered by the replica`);
      }
    });

    it('When all that is over, then the user is still logged in and the replica still serves', async () => {
      const base = target === 'replica' ? replica.url : nginx.url;
      const res = await rawRequest(base, { path: '/api/me', headers: { cookie: user.cookie } });
      assert.equal(res.status, 200);
      assert.equal(JSON.parse(res.body).user.username, user.username);
      assert.equal((await rawRequest(base, { path: '/index.html' })).status, 200);
    });
  });
}
