/**
 * System programs the project drives (nginx, and for the bench redis-server and pgbench): found on PATH or where
 * Debian puts them; when missing, installed with apt-get if we are root (saying so); otherwise a one-line reason
 * with the install command.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

export interface Tool {
  name: string;
  /** Debian package that provides it. */
  aptPackage: string;
  /** Places to look first, best first (version-specific folders). */
  candidates?(): Promise<string[]>;
  /** The reason given when it is missing; default `<name> not found; install it with: sudo apt-get install -y <package>`. */
  notFound?: string;
}

async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

async function find(tool: Tool): Promise<string | undefined> {
  const onPath = (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, tool.name));
  for (const path of [...((await tool.candidates?.()) ?? []), ...onPath, join('/usr/sbin', tool.name)]) {
    if (await isExecutable(path)) return path;
  }
  return undefined;
}

export function run(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

export function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).at(-1) ?? '';
}

/** The tool's path, installing its Debian package when missing and possible; or { missing: reason }. */
export async function ensureTool(tool: Tool, log: (line: string) => void): Promise<{ path: string } | { missing: string }> {
  const found = await find(tool);
  if (found) return { path: found };
  const hint = tool.notFound ?? `${tool.name} not found; install it with: sudo apt-get install -y ${tool.aptPackage}`;
  const aptGet = ['/usr/bin/apt-get', '/bin/apt-get'];
  const apt = (await Promise.all(aptGet.map(isExecutable))).indexOf(true);
  if (process.getuid?.() !== 0 || apt < 0) return { missing: hint };
  log(`${tool.name}: not found, installing Debian ${tool.aptPackage} with \`apt-get install -y ${tool.aptPackage}\` (may take a minute)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = await run(aptGet[apt]!, ['update'], env);
  const install = update.code === 0 ? await run(aptGet[apt]!, ['install', '-y', '--no-install-recommends', tool.aptPackage], env) : update;
  const path = await find(tool);
  if (install.code !== 0 || !path) return { missing: `${hint} (apt-get failed: ${lastLine(install.output)})` };
  log(`${tool.name}: installed ${path}`);
  return { path };
}
