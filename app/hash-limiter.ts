/**
 * At most `concurrency` jobs at once, at most `queue` more waiting (first come, first served); beyond that a job is
 * refused at once with HashQueueFullError. For scrypt (app/passwords.ts): each hash holds 16 MB and a libuv thread.
 * p-limit does the first half but has no bound on its queue; this is the whole of both.
 */

/** Every slot taken and the queue full: an overload signal (503 + Retry-After), not a failure of the request. */
export class HashQueueFullError extends Error {
  constructor(readonly load: HashLoad) {
    super('password hashing queue full');
  }
}

export interface HashLoad {
  running: number;
  queued: number;
}

export interface HashLimiter {
  run<T>(job: () => Promise<T>): Promise<T>;
  readonly load: HashLoad;
}

export function createHashLimiter(concurrency: number, queue: number): HashLimiter {
  let running = 0;
  const waiting: (() => void)[] = [];
  return {
    async run(job) {
      if (running < concurrency) {
        running++;
      } else if (waiting.length < queue) {
        await new Promise<void>((resolve) => waiting.push(resolve)); // the finishing job hands its slot over
      } else {
        throw new HashQueueFullError({ running, queued: waiting.length });
      }
      try {
        return await job();
      } finally {
        const next = waiting.shift();
        if (next) next();
        else running--;
      }
    },
    get load() {
      return { running, queued: waiting.length };
    },
  };
}
