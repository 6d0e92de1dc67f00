/**
 * Waiting for an event instead of sleeping for a guessed time: the condition is polled until it holds, and the wait
 * fails with a message naming what never happened. The bound only guards against a hang; it is never what a test
 * measures, so it can be generous.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** What is awaited, for the error message: "readiness answers 503" (a function: worded when the wait fails). */
  what: string | (() => string);
  /** Longest wait (default 20 s). */
  timeoutMs?: number;
  /** Pause between two checks (default 25 ms). */
  intervalMs?: number;
}

type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

/**
 * Resolves with the first truthy value `check` returns (awaited); throws once `timeoutMs` has passed without one.
 * An exception thrown by `check` ends the wait with that exception.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  { what, timeoutMs = 20_000, intervalMs = 25 }: WaitOptions,
): Promise<Truthy<T>> {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value as Truthy<T>;
    if (Date.now() - started >= timeoutMs) {
      throw new Error(`waited ${timeoutMs} ms, but never: ${typeof what === 'function' ? what() : what}`);
    }
    await sleep(intervalMs);
  }
}
