/** The real nginx (Debian's 1.22 locally) in front of tiny node:http replicas, configured from the top-level nginx.conf. */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { startNginx, type NginxHandle } from '../infra/nginx.js';
import { renderSiteConf, trustFrontProxy, type Upstream } from '../infra/nginx-config.js';
import { nginxCheck } from './helpers/nginx-check.js';

const template = await readFile(new URL('../nginx.conf', import.meta.url), 'utf8');

interface Replica {
  address: string;
  hits: number;
  requestIds: string[];
  server: Server;
}

/** A replica answering 200 with its own X-Instance; `onRequest` may misbehave instead. Stopped after the test. */
async function startReplica(t: TestContext, id: string, onRequest?: (socketDestroy: () => void) => void): Promise<Replica> {
  const replica: Replica = { address: '', hits: 0, requestIds: [], server: createServer() };
  replica.server.on('request', (req, res) => {
    replica.hits++;
    replica.requestIds.push(String(req.headers['x-request-id']));
    if (onRequest) return onRequest(() => req.socket.destroy());
    req.resume().on('end', () => res.setHeader('X-Instance', id).end(JSON.stringify({ instance: id })));
  });
  t.after(() => stopServer(replica.server));
  await new Promise<void>((resolve) => replica.server.listen(0, '127.0.0.1', resolve));
  replica.address = `127.0.0.1:${(replica.server.address() as AddressInfo).port}`;
  return replica;
}

function stopServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections(); // nginx keeps idle upstream connections open
  });
}

/** A port nothing listens on (for nginx itself, or for a replica that refuses connections). */
async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startProxy(t: TestContext, upstreams: Upstream[]): Promise<NginxHandle> {
  const nginx = await startNginx({ port: await freePort(), upstreams });
  t.after(() => nginx.stop());
  return nginx;
}

test('When rendered for the local cluster, nginx.conf passes nginx -t', async (t) => {
  const site = renderSiteConf(template, {
    listen: '127.0.0.1:18080',
    upstreams: [{ address: '127.0.0.1:3001' }, { address: '127.0.0.1:3002', down: true }],
  });
  assert.match(await nginxCheck(t, site), /test is successful/);
  // Only the marked blocks change: the compose form is gone, everything else is the shipped file.
  assert.doesNotMatch(site, /^\s*resolver |server app:3000/m);
  assert.match(site, /server 127\.0\.0\.1:3002 down max_fails=1 fail_timeout=2s;/);
  assert.match(site, /^\s*listen 127\.0\.0\.1:18080;$/m);
  assert.match(site, /keepalive_timeout 60s;/);
});

test('When shipped, nginx.conf holds the compose upstream form between the markers', () => {
  assert.match(
    template,
    /# BEGIN upstream servers\n\s*(#.*\n\s*)*resolver 127\.0\.0\.11 valid=5s ipv6=off;\n\s*server app:3000 resolve max_fails=1 fail_timeout=2s;\n\s*# END upstream servers/,
  );
  assert.match(template, /# BEGIN listen\n\s*listen 8080;\n\s*# END listen/);
});

test("When shipped, nginx.conf passes on its own scheme, never a client's X-Forwarded-Proto; trustFrontProxy keeps a front proxy's http or https", () => {
  assert.match(template, /proxy_set_header X-Forwarded-Proto \$forwarded_proto;/);
  assert.match(
    template,
    /# BEGIN forwarded proto\n(#.*\n)*map \$http_x_forwarded_proto \$forwarded_proto \{\n\s*default \$scheme;\n\}\n# END forwarded proto/,
  );
  const behind = trustFrontProxy(template);
  assert.match(behind, /map \$http_x_forwarded_proto \$forwarded_proto \{\n\s*default \$scheme;\n\s*http\s+http;\n\s*https\s+https;\n\}/);
  assert.throws(() => trustFrontProxy(template.replace('# BEGIN forwarded proto', '')), /BEGIN forwarded proto/);
});

test('When a template marker is missing, rendering throws', () => {
  const opts = { listen: '127.0.0.1:8080', upstreams: [{ address: '127.0.0.1:3001' }] };
  assert.throws(() => renderSiteConf(template.replace('# END upstream servers', ''), opts), /END upstream servers/);
  assert.throws(() => renderSiteConf(template.replace('# BEGIN listen', ''), opts), /BEGIN listen/);
  assert.throws(
    () => renderSiteConf(template, { ...opts, upstreams: [{ address: '127.0.0.1:3001; include /etc/passwd' }] }),
    /invalid address/,
  );
});

test("When two upstreams are up, nginx spreads requests over both and keeps the client's X-Request-Id", async (t) => {
  const a = await startReplica(t, 'a');
  const b = await startReplica(t, 'b');
  const nginx = await startProxy(t, [{ address: a.address }, { address: b.address }]);

  const instances = new Set<string | null>();
  for (let i = 0; i < 10; i++) {
    const res = await fetch(`${nginx.url}/api/ping`, { headers: { 'X-Request-Id': `client-${i}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-request-id'), `client-${i}`);
    instances.add(res.headers.get('x-instance'));
    await res.text();
  }
  assert.deepEqual([...instances].sort(), ['a', 'b']);
  assert.deepEqual([...a.requestIds, ...b.requestIds].sort(), Array.from({ length: 10 }, (_, i) => `client-${i}`).sort());

  // Without a client id, nginx makes one and gives the same one to the replica and the client.
  const res = await fetch(`${nginx.url}/`);
  await res.text();
  const id = res.headers.get('x-request-id') ?? '';
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.ok([...a.requestIds, ...b.requestIds].includes(id), 'the replica got the same id');
});

test('When an upstream is marked down and nginx reloaded, no request reaches it', async (t) => {
  const a = await startReplica(t, 'a');
  const b = await startReplica(t, 'b');
  const nginx = await startProxy(t, [{ address: a.address }, { address: b.address }]);

  await nginx.reload([{ address: a.address }, { address: b.address, down: true }]);
  const bHitsBefore = b.hits;
  for (let i = 0; i < 10; i++) {
    const res = await fetch(`${nginx.url}/api/ping`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-instance'), 'a');
    await res.text();
  }
  assert.equal(b.hits, bHitsBefore);
});

test('When a replica refuses connections, GET is retried on the other and the client sees 200', async (t) => {
  const deadAddress = `127.0.0.1:${await freePort()}`;
  const live = await startReplica(t, 'live');
  const nginx = await startProxy(t, [{ address: deadAddress }, { address: live.address }]);

  for (let i = 0; i < 4; i++) {
    const res = await fetch(`${nginx.url}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-instance'), 'live');
    await res.text();
  }
  // The dead replica was tried and the request went on to the live one, all within one client request.
  const accessLog = await readFile(join(nginx.runDir, 'access.log'), 'utf8');
  assert.ok(accessLog.includes(`upstream=${deadAddress}, ${live.address} upstream_status=502, 200`), accessLog);
});

test('When a replica drops a POST it already received, nginx does not replay it on another replica', async (t) => {
  const dropper = await startReplica(t, 'dropper', (destroy) => destroy());
  const other = await startReplica(t, 'other');
  const nginx = await startProxy(t, [{ address: dropper.address }, { address: other.address }]);

  const statuses: number[] = [];
  for (let i = 0; i < 4 && dropper.hits === 0; i++) {
    const res = await fetch(`${nginx.url}/api/orders`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    statuses.push(res.status);
    await res.text();
  }
  assert.equal(dropper.hits, 1, 'the dropping replica got the POST once');
  assert.equal(statuses.at(-1), 502, 'the dropped POST fails instead of running twice');
  assert.equal(other.hits, statuses.filter((s) => s === 200).length, 'no POST was replayed on the other replica');
});

test('When every replica is gone, the client gets a JSON 502 body', async (t) => {
  const a = await startReplica(t, 'a');
  const b = await startReplica(t, 'b');
  const nginx = await startProxy(t, [{ address: a.address }, { address: b.address }]);
  await Promise.all([stopServer(a.server), stopServer(b.server)]);

  const res = await fetch(`${nginx.url}/api/ping`, { headers: { 'X-Request-Id': 'gone-1' } });
  assert.equal(res.status, 502);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(res.headers.get('x-request-id'), 'gone-1');
  const body = (await res.json()) as { error?: unknown };
  assert.equal(typeof body.error, 'string');
});

test('When the body is over the limit, nginx answers 413', async (t) => {
  const a = await startReplica(t, 'a');
  const nginx = await startProxy(t, [{ address: a.address }]);

  const res = await fetch(`${nginx.url}/api/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: 'x'.repeat(65 * 1024),
  });
  assert.equal(res.status, 413);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(typeof ((await res.json()) as { error?: unknown }).error, 'string');
  assert.equal(a.hits, 0, 'the replica never saw the request');
});

test('When a replica would answer /metrics (an image from before the metrics port), nginx answers a JSON 404 itself and never forwards it', async (t) => {
  const replica = await startReplica(t, 'old-image');
  const nginx = await startProxy(t, [{ address: replica.address }]);
  for (const path of ['/metrics', '/metrics/', '/METRICS', '//metrics', '/%6detrics', '/metrics?name=x']) {
    const res = await fetch(`${nginx.url}${path}`);
    assert.equal(res.status, 404, path);
    assert.deepEqual(await res.json(), { error: 'not found' }, path);
  }
  assert.equal(replica.hits, 0, 'no metrics request reached the replica');
  assert.equal((await fetch(`${nginx.url}/metricsx`)).status, 200, 'only /metrics itself is kept back');
});
