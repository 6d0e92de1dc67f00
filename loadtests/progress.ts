/**
 * The live progress of a scenario: one line rewritten every second on a terminal; on a pipe or in CI, a plain
 * line every few seconds. Notes (a replica restarted, ...) are printed on their own line.
 */
export interface Counts {
  requests: number;
  failures: number;
}

export interface Progress {
  /** A phase shown after the figures, such as "restarting replica 2". */
  phase(text: string): void;
  note(line: string): void;
  end(): void;
}

const PLAIN_EVERY_S = 5;

export function startProgress(scenario: string, counts: () => Counts, out: NodeJS.WriteStream = process.stderr): Progress {
  const tty = out.isTTY === true;
  const started = Date.now();
  let last = counts();
  let phase = '';
  let ticks = 0;
  let rate = 0;

  const line = () => {
    const { failures } = counts();
    const elapsed = ((Date.now() - started) / 1000).toFixed(0).padStart(3);
    return `[${scenario}] ${elapsed}s  ${String(rate).padStart(5)} req/s  ${failures} errors${phase ? `  ${phase}` : ''}`;
  };
  const clear = () => tty && out.write('\r\x1b[2K');

  const timer = setInterval(() => {
    const now = counts();
    rate = now.requests - last.requests;
    last = now;
    ticks++;
    if (tty) out.write(`\r\x1b[2K${line()}`);
    else if (ticks % PLAIN_EVERY_S === 0) out.write(`${line()}\n`);
  }, 1_000);
  timer.unref();

  return {
    phase(text) {
      phase = text;
    },
    note(text) {
      clear();
      out.write(`[${scenario}] ${text}\n`);
      if (tty) out.write(line());
    },
    end() {
      clearInterval(timer);
      clear();
    },
  };
}
