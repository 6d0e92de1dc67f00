/** Ctrl+C (or SIGTERM) during a run: stop what the run started, once, then exit 130. */

/**
 * Registers the handler for SIGINT and SIGTERM; `program` prefixes the line it says.
 * `on`, not `once`: signal-exit (loaded with Testcontainers) re-raises the signal when it finds no other listener.
 */
export function stopOnSignals(program: string, say: (line: string) => void, stop: () => Promise<void>): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      say(`\n${program}: ${signal}, stopping what this run started`);
      void stop().finally(() => process.exit(130));
    });
  }
}
