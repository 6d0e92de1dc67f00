/**
 * The system programs the bench drives besides nginx (infra/nginx.ts installs that one): redis-server and pgbench.
 * Found on PATH or where Debian puts them; when missing, installed with apt-get if we are root (saying so), as
 * infra/nginx.ts does for nginx; otherwise undefined, with the one-line install command in the reason.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

export interface Tool {
  name: string;
  /** Debian package that provides it. */
  aptPackage: string;
  /** Places to look first, best first (version-specific folders). */
  candidates(): Promise<string[]>;
}

const executable = (path: string) =>
  access(path, constants.X_OK).then(
    () => true,
    () => false,
  );

async function find(tool: Tool): Promise<string | undefined> {
  const onPath = (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, tool.name));
  for (const path of [...(await tool.candidates()), ...onPath, join('/usr/sbin', tool.name)]) {
    if (await executable(path)) return path;
  }
  return undefined;
}

function run(file: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: `${stdout}${stderr}` }),
    );
  });
}

/** The tool's path, installing its Debian package when missing and possible; or { missing: reason }. */
export async function ensureTool(tool: Tool, log: (line: string) => void): Promise<{ path: string } | { missing: string }> {
  const found = await find(tool);
  if (found) return { path: found };
  const hint = `${tool.name} not found; install it with: sudo apt-get install -y ${tool.aptPackage}`;
  if (process.getuid?.() !== 0 || !(await executable('/usr/bin/apt-get'))) return { missing: hint };
  log(`${tool.name}: not found, installing Debian ${tool.aptPackage} with \`apt-get install -y ${tool.aptPackage}\` (may take a minute)`);
  const update = await run('/usr/bin/apt-get', ['update']);
  const install = update.code === 0 ? await run('/usr/bin/apt-get', ['install', '-y', '--no-install-recommends', tool.aptPackage]) : update;
  const path = await find(tool);
  if (install.code !== 0 || !path) return { missing: `${hint} (apt-get failed: ${install.output.trim().split('\n').at(-1)})` };
  log(`${tool.name}: installed ${path}`);
  return { path };
}

export const redisServer: Tool = { name: 'redis-server', aptPackage: 'redis-server', candidates: async () => [] };

/** Debian keeps pgbench in /usr/lib/postgresql/<major>/bin (the one on PATH is a wrapper that needs a cluster). */
export const pgbench: Tool = {
  name: 'pgbench',
  aptPackage: 'postgresql-15',
  async candidates() {
    const majors = await readdir('/usr/lib/postgresql').catch(() => [] as string[]);
    return majors
      .filter((m) => /^\d+$/.test(m))
      .sort((a, b) => Number(b) - Number(a))
      .map((m) => `/usr/lib/postgresql/${m}/bin/pgbench`);
  },
};
