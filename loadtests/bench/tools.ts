/**
 * The system programs the bench drives besides nginx (infra/nginx.ts installs that one): redis-server and pgbench.
 * Found and, when missing, installed as infra/system-tool.ts does (with apt-get if we are root, saying so);
 * otherwise missing, with the one-line install command in the reason.
 */
import { readdir } from 'node:fs/promises';
import type { Tool } from '../../infra/system-tool.js';

export { ensureTool, type Tool } from '../../infra/system-tool.js';

export const redisServer: Tool = { name: 'redis-server', aptPackage: 'redis-server' };

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
