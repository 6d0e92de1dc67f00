/**
 * The Kubernetes nginx ConfigMap against the top-level nginx.conf. `nginx -t` of the local rendering of nginx.conf is
 * in test/nginx.test.ts; this file covers what Kubernetes gets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { parse } from 'yaml';
import { renderSiteConf, replaceBlock, trustFrontProxy } from '../../infra/nginx-config.js';
import { freePort } from '../../infra/ports.js';
import { NAMESPACE, nginxConfigMaps, renderNginxConfigMap } from '../../infra/render-k8s-nginx.js';
import { readText, root } from './files.js';
import { nginxCheck } from '../helpers/nginx-check.js';

const template = readText('nginx.conf');
const committed = await Promise.all(nginxConfigMaps.map(async (target) => ({ ...target, text: await readFile(target.path, 'utf8') })));
const siteOf = (text: string) => (parse(text) as { data: Record<string, string> }).data['default.conf']!;
const shipped = siteOf(committed.find((c) => c.namespace === NAMESPACE)!.text);

test('When nginx.conf is rendered for Kubernetes, each committed ConfigMap (trial and production) is exactly that rendering (run `npm run k8s:nginx` after editing nginx.conf)', () => {
  assert.deepEqual(
    committed.map((c) => c.namespace),
    [NAMESPACE, `${NAMESPACE}-production`],
  );
  for (const { namespace, path, text } of committed) {
    assert.equal(text, renderNginxConfigMap(template, namespace), `${relative(root, path)} is stale: run \`npm run k8s:nginx\``);
  }
});

test('When the trial and the production ConfigMap are compared, they differ only in the namespace of the app Service', () => {
  const [trial, production] = committed.map((c) => siteOf(c.text));
  assert.equal(production, trial!.replaceAll(`app.${NAMESPACE}.svc`, `app.${NAMESPACE}-production.svc`));
  assert.notEqual(production, trial);
});

test('When the upstream servers blocks are set aside, the ConfigMap is nginx.conf trusting the X-Forwarded-Proto of the ingress in front', () => {
  const withoutUpstream = (text: string) => replaceBlock(text, 'upstream servers', ['(differs per environment)']);
  assert.equal(withoutUpstream(shipped), withoutUpstream(trustFrontProxy(template)));
  assert.notEqual(shipped, template, 'the upstream block itself is the Kubernetes one');
});

test("When its upstream block is swapped for a plain server (Debian's nginx 1.22 has no `resolve`) and its listen for a free port, the ConfigMap's nginx config passes nginx -t", async (t) => {
  const site = renderSiteConf(shipped, {
    listen: `127.0.0.1:${await freePort()}`,
    upstreams: [{ address: `127.0.0.1:${await freePort()}` }],
  });
  assert.match(await nginxCheck(t, site), /test is successful/);
});
