/** Runs the operator command (infra/sessions-cli.ts, or its compiled copy) as its own process. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../../infra/sessions-cli.ts', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `script`: the compiled dist/infra/sessions-cli.js, run with plain node; by default the source, with tsx. */
export function runSessionsCli(args: string[], env: NodeJS.ProcessEnv, script?: string): Promise<CliRun> {
  const argv = script ? [script, ...args] : ['--import', 'tsx', entry, ...args];
  return new Promise((resolve) => {
    execFile(process.execPath, argv, { env: { PATH: process.env.PATH, ...env }, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
