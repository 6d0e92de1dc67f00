/**
 * The operator's view of a user's sessions: `npm run sessions -- list --user NAME` and `... revoke --user NAME`, or
 * in the image `node dist/infra/sessions-cli.js ...` (docs/operating.md). The same code as the routes
 * (app/user-sessions.ts): a revocation deletes the rows, final on every replica at once, like a logout.
 *
 * Exit codes: 0 done, 1 failed (no such user, bad configuration, database), 2 wrong usage. Errors are one line.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig, ConfigError } from '../app/config.js';
import { createPool } from '../app/db.js';
import { createUsers } from '../app/users.js';
import { createUserSessions, MAX_LISTED, type UserSession } from '../app/user-sessions.js';

const USAGE = 'usage: sessions list --user NAME | sessions revoke --user NAME';

class Failure extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

function parse(argv: string[]): { command: 'list' | 'revoke'; user: string } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { user: { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new Failure(`sessions: ${(err as Error).message.split('\n')[0]}\n${USAGE}`, 2);
  }
  const [command, ...extra] = parsed.positionals;
  const user = parsed.values.user;
  if ((command !== 'list' && command !== 'revoke') || extra.length > 0 || !user) throw new Failure(USAGE, 2);
  return { command, user };
}

const line = (s: UserSession) =>
  [s.createdAt ?? '-', s.lastActiveAt ?? '-', s.expiresAt, s.device ?? '-'].map((cell, i) => (i < 3 ? cell.padEnd(24) : cell)).join(' ');

/** Runs one command; its output lines go to `print`. Throws Failure with the exit code. */
async function run(argv: string[], env: NodeJS.ProcessEnv, print: (line: string) => void): Promise<void> {
  const { command, user: name } = parse(argv);
  const config = loadConfig(env);
  const pool = createPool({ ...config.database, poolMax: 1 }, () => {});
  try {
    const user = await createUsers(pool).find(name);
    if (!user) throw new Failure(`sessions: no user named ${JSON.stringify(name)}`, 1);
    const sessions = createUserSessions(pool);
    if (command === 'revoke') {
      const ended = await sessions.endAll(user.id);
      print(`revoked ${ended} live session(s) of ${user.username}: every replica answers 401 to them from now on`);
      return;
    }
    const list = await sessions.list(user.id);
    print(
      `${list.length} live session(s) of ${user.username}${list.length === MAX_LISTED ? ` (the ${MAX_LISTED} most recently active)` : ''}`,
    );
    if (list.length > 0) print(['created', 'last active', 'expires', 'device'].map((h, i) => (i < 3 ? h.padEnd(24) : h)).join(' '));
    for (const session of list) print(line(session));
  } finally {
    await pool.end();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    await run(process.argv.slice(2), process.env, (text) => console.log(text));
  } catch (err) {
    if (err instanceof Failure) {
      console.error(err.message);
      process.exitCode = err.code;
    } else {
      console.error(err instanceof ConfigError ? err.message : `sessions: failed: ${(err as Error).message}`);
      process.exitCode = 1;
    }
  }
}
