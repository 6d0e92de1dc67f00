/**
 * Runs the real nginx in front of local replicas, from the same top-level nginx.conf that compose and Kubernetes use,
 * rendered by nginx-config.ts (Debian's nginx 1.22 knows neither `resolver` nor `resolve` inside an upstream, which
 * the compose form needs); finds or installs nginx through system-tool.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureTool, lastLine, run, type Tool } from './system-tool.js';
import { renderMainConf, renderSiteConf, type Upstream } from './nginx-config.js';
import { childPids } from './proc-stat.js';

export interface NginxHandle {
  url: string;
  /** With the `tls` option: the HTTPS address. */
  httpsUrl?: string;
  pid: number;
  runDir: string;
  reload(upstreams: Upstream[]): Promise<void>;
  stop(): Promise<void>;
}

const templatePath = fileURLToPath(new URL('../nginx.conf', import.meta.url));
const START_TIMEOUT_MS = 10_000;
const RELOAD_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;

const nginxTool: Tool = {
  name: 'nginx',
  aptPackage: 'nginx',
  notFound: 'nginx not found on PATH or in /usr/sbin; install it with: sudo apt-get install -y nginx',
};

/** Path of an nginx binary. If missing and we are root with apt-get, installs Debian's nginx saying so via log(); otherwise throws an Error whose message is one line with the install command. */
export async function ensureNginx(log: (line: string) => void = () => {}): Promise<string> {
  const found = await ensureTool(nginxTool, log);
  if ('missing' in found) throw new Error(found.missing);
  return found.path;
}

/** nginx's complaint from `nginx -t` output, as one line. */
function nginxMessage(output: string): string {
  const lines = output.split('\n').filter((l) => /\[(emerg|alert|crit|error)\]/.test(l));
  return (lines.length ? lines : [lastLine(output)]).map((l) => l.replace(/^nginx: /, '').trim()).join('; ');
}

/** The last distinct messages of error.log, as one line (nginx repeats e.g. bind() failures five times). */
async function tail(path: string, count = 5): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  const lines = text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^\S+ \S+ (\[\w+\]) \d+#\d+: /, '$1 '));
  return [...new Set(lines)].slice(-count).join('; ');
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(1_000);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** Starts nginx in the foreground as a child process (daemon off, master_process on) on host:port from the top-level nginx.conf. */
export async function startNginx(opts: {
  host?: string;
  port: number;
  upstreams: Upstream[];
  runDir?: string;
  /** Also listen with TLS on this port (tests of what the app sees behind an HTTPS proxy). */
  tls?: { port: number; certificate: string; key: string };
  /** nginx stands behind a TLS-terminating proxy: pass on its X-Forwarded-Proto (see trustFrontProxy). */
  trustFrontProxy?: boolean;
  log?: (line: string) => void;
}): Promise<NginxHandle> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => {});
  const address = (port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
  const hostPort = address(opts.port);
  const tls = opts.tls && { listen: address(opts.tls.port), certificate: opts.tls.certificate, key: opts.tls.key };
  const bin = await ensureNginx(log);
  const template = await readFile(templatePath, 'utf8');

  const ownsRunDir = !opts.runDir;
  const runDir = opts.runDir ?? (await mkdtemp(join(tmpdir(), 'nginx-')));
  await mkdir(runDir, { recursive: true });
  // Workers run as `nobody` when the master is root, and write request bodies over 16 KB (and large responses) to
  // the temp paths: those must be in a folder they can traverse. A given runDir may be in a private one (a checkout
  // in /root, `mktemp -d`), where every such request would fail with a 500, so the temp paths go to the system's.
  const tempDir = ownsRunDir ? runDir : await mkdtemp(join(tmpdir(), 'nginx-temp-'));
  await chmod(tempDir, 0o755);
  const siteConf = join(runDir, 'site.conf');
  const mainConf = join(runDir, 'nginx.conf');
  const errorLog = join(runDir, 'error.log');
  const pidFile = join(runDir, 'nginx.pid');
  // -e: log startup errors to runDir as well, not to /var/log/nginx (unwritable when not root).
  const baseArgs = ['-p', runDir, '-e', errorLog, '-c', mainConf];
  const cleanup = () => rm(tempDir, { recursive: true, force: true }); // when nginx owns runDir, that is runDir

  const test = async () => {
    const { code, output } = await run(bin, ['-t', ...baseArgs]);
    if (code !== 0) throw new Error(`nginx -t failed: ${nginxMessage(output)}`);
  };
  const writeSite = (upstreams: Upstream[]) =>
    writeFile(siteConf, renderSiteConf(template, { listen: hostPort, upstreams, tls, trustFrontProxy: opts.trustFrontProxy }));

  let child: ChildProcess;
  try {
    await writeSite(opts.upstreams);
    await writeFile(mainConf, renderMainConf({ runDir, siteConfPath: siteConf, tempDir }));
    await test();
    child = spawn(bin, baseArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    await cleanup();
    throw err;
  }
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    const done = () => {
      exited = true;
      resolve();
    };
    child.once('exit', done);
    child.once('error', done); // could not spawn: there is nothing to wait for
  });
  const pid = child.pid;
  if (pid === undefined) {
    await exit;
    await cleanup();
    throw new Error(`nginx could not be started from ${bin}`);
  }
  const forward = (chunk: Buffer) =>
    chunk
      .toString()
      .split('\n')
      .filter(Boolean)
      .forEach((l) => log(`nginx: ${l}`));
  child.stdout!.on('data', forward);
  child.stderr!.on('data', forward);
  // Do not leave nginx behind if this process exits without calling stop().
  const onExit = () => {
    if (!exited) child.kill('SIGQUIT');
  };
  process.once('exit', onExit);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      process.removeListener('exit', onExit);
      if (!exited) {
        const workers = childPids(pid) ?? [];
        child.kill('SIGQUIT'); // graceful: finish in-flight requests
        await Promise.race([exit, sleep(STOP_TIMEOUT_MS, undefined, { ref: false })]); // unref: do not hold the process open
        if (!exited) {
          log(`nginx: no graceful exit within ${STOP_TIMEOUT_MS / 1000}s, killing ${pid}`);
          for (const worker of [pid, ...workers]) {
            try {
              process.kill(worker, 'SIGKILL');
            } catch {
              // already gone
            }
          }
          await exit;
        }
      }
      await cleanup();
    })());

  // Listening is certain once the pid file names our master (nginx writes it after binding), and the port answers.
  // Waiting for the pid file also avoids being fooled by another process already on the port.
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited) {
      const why = await tail(errorLog);
      await stop();
      throw new Error(`nginx exited during startup: ${why || 'no output in error.log'}`);
    }
    const pidText = await readFile(pidFile, 'utf8').catch(() => '');
    if (Number(pidText.trim()) === pid && (await canConnect(host, opts.port))) break;
    if (Date.now() > deadline) {
      const why = await tail(errorLog);
      await stop();
      throw new Error(`nginx did not accept connections on ${hostPort} within ${START_TIMEOUT_MS / 1000}s: ${why}`);
    }
    await sleep(50);
  }

  const reload = async (upstreams: Upstream[]) => {
    if (exited || stopping) throw new Error('nginx is not running');
    const previous = await readFile(siteConf, 'utf8');
    await writeSite(upstreams);
    try {
      await test(); // nginx would ignore a bad config on SIGHUP and keep the old one: fail loudly instead
    } catch (err) {
      await writeFile(siteConf, previous);
      throw err;
    }
    const before = childPids(pid);
    child.kill('SIGHUP');
    if (!before) {
      await sleep(500); // no /proc: give nginx a moment
      return;
    }
    // Done when new workers serve and the old ones (still on the old config) have finished their requests.
    const deadline = Date.now() + RELOAD_TIMEOUT_MS;
    for (;;) {
      const now = childPids(pid) ?? [];
      const fresh = now.some((p) => !before.includes(p));
      if (fresh && !now.some((p) => before.includes(p))) return;
      if (exited) throw new Error(`nginx exited during reload: ${await tail(errorLog)}`);
      if (Date.now() > deadline) {
        if (fresh) return log('nginx: reloaded, old workers still finishing requests');
        throw new Error(`nginx did not reload within ${RELOAD_TIMEOUT_MS / 1000}s: ${await tail(errorLog)}`);
      }
      await sleep(20);
    }
  };

  return { url: `http://${hostPort}`, httpsUrl: tls && `https://${tls.listen}`, pid, runDir, reload, stop };
}
