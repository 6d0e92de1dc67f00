/**
 * The session cookie's Secure flag through real nginx in front of two replicas, which read the scheme from nginx's
 * X-Forwarded-Proto (trust proxy). TLS terminated by nginx: one nginx serves HTTPS on one port and plain HTTP on
 * another. TLS terminated in front of nginx: a second nginx, configured to trust its front proxy, gets plain HTTP with
 * the front proxy's X-Forwarded-Proto (this test plays the front proxy).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNginx, type NginxHandle } from '../../infra/nginx.js';
import { freePort } from '../../infra/ports.js';
import { startReplica, waitForReady, type ReplicaProcess } from '../../infra/replica.js';
import { createCa, issueServerCertificate } from '../helpers/certificates.js';
import { httpsRequest } from '../helpers/https.js';
import { HttpClient, PASSWORD, uniqueName } from '../helpers/http-client.js';
import { migratedDatabase } from '../helpers/database.js';
import { replicaEnv } from '../helpers/replicas.js';

let dir: string;
let caPem: string;
let nginx: NginxHandle;
let behindProxy: NginxHandle;
const replicas: ReplicaProcess[] = [];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cookies-nginx-'));
  await chmod(dir, 0o755);
  const ca = await createCa(dir, 'test-ca');
  const server = await issueServerCertificate(ca, dir, 'nginx', ['IP:127.0.0.1']);
  caPem = await readFile(ca.cert, 'utf8');
  const env = replicaEnv(await migratedDatabase());
  for (let i = 0; i < 2; i++) replicas.push(startReplica({ port: await freePort(), env }));
  await Promise.all(replicas.map((r) => waitForReady(r)));
  nginx = await startNginx({
    port: await freePort(),
    upstreams: replicas.map((r) => ({ address: `127.0.0.1:${r.port}` })),
    tls: { port: await freePort(), certificate: server.cert, key: server.key },
  });
  behindProxy = await startNginx({
    port: await freePort(),
    upstreams: replicas.map((r) => ({ address: `127.0.0.1:${r.port}` })),
    trustFrontProxy: true,
  });
});
after(async () => {
  await nginx?.stop();
  await behindProxy?.stop();
  await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sessionCookie = (setCookies: string[] | undefined) => {
  const cookie = setCookies?.find((c) => c.startsWith('sid='));
  assert.ok(cookie, 'a session cookie is set');
  return cookie;
};

describe('Session cookie behind nginx', () => {
  it('When the browser reaches nginx over HTTPS, then the cookie is Secure and the session works over HTTPS', async () => {
    const res = await httpsRequest(`${nginx.httpsUrl}/api/register`, {
      ca: caPem,
      method: 'POST',
      body: { username: uniqueName('https'), password: PASSWORD },
    });
    assert.equal(res.status, 201);
    const cookie = sessionCookie(res.headers['set-cookie']);
    assert.match(cookie, /; Secure(;|$)/);
    assert.match(cookie, /; HttpOnly/);
    const me = await httpsRequest(`${nginx.httpsUrl}/api/me`, { ca: caPem, headers: { cookie: cookie.split(';')[0]! } });
    assert.equal(me.status, 200);
  });

  it('When the browser uses plain HTTP through nginx, then the cookie is not Secure (it would never be sent back)', async () => {
    const res = await new HttpClient(nginx.url).post('/api/register', { username: uniqueName('http'), password: PASSWORD });
    assert.equal(res.status, 201);
    assert.doesNotMatch(sessionCookie(res.headers.getSetCookie()), /Secure/);
  });

  it('When a plain-HTTP client sends X-Forwarded-Proto: https to an nginx not configured to trust a front proxy, then nginx overwrites it and the cookie is not Secure', async () => {
    const res = await new HttpClient(nginx.url).post(
      '/api/register',
      { username: uniqueName('spoof'), password: PASSWORD },
      { 'x-forwarded-proto': 'https' },
    );
    assert.equal(res.status, 201);
    assert.doesNotMatch(sessionCookie(res.headers.getSetCookie()), /Secure/);
  });

  it('When TLS ends at a proxy in front of an nginx configured to trust it, and that proxy sends X-Forwarded-Proto: https, then the app sees https and the cookie is Secure', async () => {
    const client = new HttpClient(behindProxy.url);
    const res = await client.post(
      '/api/register',
      { username: uniqueName('ingress'), password: PASSWORD },
      { 'x-forwarded-proto': 'https' },
    );
    assert.equal(res.status, 201);
    assert.match(sessionCookie(res.headers.getSetCookie()), /; Secure(;|$)/);
    assert.equal((await client.get('/api/me', { 'x-forwarded-proto': 'https' })).status, 200);
  });

  it('When the nginx that trusts its front proxy gets X-Forwarded-Proto: http, none, or anything but http/https, then the cookie is not Secure (its own scheme)', async () => {
    for (const proto of ['http', undefined, 'https, http', 'ftp']) {
      const headers: Record<string, string> = proto === undefined ? {} : { 'x-forwarded-proto': proto };
      const res = await new HttpClient(behindProxy.url).post(
        '/api/register',
        { username: uniqueName('front'), password: PASSWORD },
        headers,
      );
      assert.equal(res.status, 201, String(proto));
      assert.doesNotMatch(sessionCookie(res.headers.getSetCookie()), /Secure/, String(proto));
    }
  });

  it('When a request reaches a replica directly, then the replica believes its direct peer: only nginx may reach replicas', async () => {
    // trust proxy = 1 means "the peer in front of me is the proxy": whatever reaches the port can claim HTTPS.
    // That is the deployment's promise to keep (replicas on a private network), not something a replica can check.
    const res = await new HttpClient(replicas[0]!.url).post(
      '/api/register',
      { username: uniqueName('direct'), password: PASSWORD },
      { 'x-forwarded-proto': 'https' },
    );
    assert.equal(res.status, 201);
    assert.match(sessionCookie(res.headers.getSetCookie()), /; Secure/);
  });
});
