/** Runs `nginx -t` on a rendered site config, inside a minimal main config in a folder removed after the test. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { TestContext } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureNginx } from '../../infra/nginx.js';
import { renderMainConf } from '../../infra/nginx-config.js';

/** nginx's verdict (stderr); throws when nginx refuses the config. */
export async function nginxCheck(t: TestContext, site: string): Promise<string> {
  const bin = await ensureNginx();
  const runDir = await mkdtemp(join(tmpdir(), 'nginx-check-'));
  t.after(() => rm(runDir, { recursive: true, force: true }));
  const siteConfPath = join(runDir, 'site.conf');
  await writeFile(siteConfPath, site);
  await writeFile(join(runDir, 'nginx.conf'), renderMainConf({ runDir, siteConfPath }));
  const { stderr } = await promisify(execFile)(bin, [
    '-t',
    '-p',
    runDir,
    '-e',
    join(runDir, 'error.log'),
    '-c',
    join(runDir, 'nginx.conf'),
  ]);
  return stderr;
}
