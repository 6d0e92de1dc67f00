/**
 * The one load engine of `npm run loadtest`, `npm run bench` and `npm run profile`: one keep-alive connection per
 * script (an undici Client, https://undici.nodejs.org), each sending its script's next request as soon as the last
 * one is answered, for a bounded time or number of answers.
 *
 * It behaves like a browser where the load test needs it (autocannon cannot do this through its public API):
 * - a `Connection: close` answer (nginx sends one on every reload) moves the connection to a new socket;
 * - a request that got no byte of answer on a reused connection is sent once more on a new one (RFC 9112 §9.3.1):
 *   a server may close an idle keep-alive connection just as the next request arrives, and nginx does so on reload;
 * - a 503 or 429 with `Retry-After` (the app's overload answer) is sent again after that many seconds, and counted
 *   apart; latency then runs from the first attempt, as the user waits.
 * Any other request without a complete answer is handed to the script's `lost`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, errors } from 'undici';
import { LatencyHistogram } from './histogram.js';

export interface Step {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface Answer {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** From the first attempt to the last byte of this answer. */
  latencyMs: number;
}

/** One connection's traffic: what to send next and what to make of each answer. */
export interface Script {
  /** The next request, or undefined when this connection is done. */
  next(): Step | undefined;
  answered(step: Step, answer: Answer): void;
  /** No complete answer: `kind` is 'timeout', CLOSED or the socket error's code. */
  lost(step: Step, kind: string): void;
}

const CLOSED = 'connection closed before a complete response';

export interface EngineOptions {
  url: string;
  /** One connection each. */
  scripts: Script[];
  maxSeconds: number;
  /** Stop once this many answers came (every connection finishes the request it has in flight). */
  maxAnswers?: number;
  /** Per request, without an answer: counted as lost with kind 'timeout'. */
  timeoutSeconds?: number;
}

export interface EngineResult {
  seconds: number;
  /** Complete answers, whatever the status (an overload answer that was retried is not one). */
  answers: number;
  lost: number;
  /** Requests sent again after their reused connection closed before any byte of answer. */
  replayed: number;
  /** 503/429 answers with Retry-After, each followed by the same request after the wait. */
  retriedAfter: Record<string, number>;
  statuses: Record<string, number>;
  latency: LatencyHistogram;
}

export interface Run {
  /** Answers and lost requests so far, for progress lines. */
  counts(): { requests: number; failures: number };
  /** Ends the run: each connection finishes its request in flight; resolves with the result. */
  stop(): Promise<EngineResult>;
  /** Resolves when the run ends by itself (time, answers, or every script done). */
  done: Promise<EngineResult>;
}

/** An overload answer is retried until the run ends (its time bound), never waiting longer than this at a time. */
const MAX_RETRY_AFTER_SECONDS = 10;

/** The server closed or reset the connection under the request. */
function closedUnder(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return err instanceof errors.SocketError || code === 'ECONNRESET' || code === 'EPIPE';
}

function lostKind(err: unknown): string {
  if (err instanceof errors.HeadersTimeoutError || err instanceof errors.BodyTimeoutError) return 'timeout';
  if (err instanceof errors.SocketError) return CLOSED;
  const code = (err as NodeJS.ErrnoException).code;
  return code ?? (err as Error).message;
}

/** Seconds to wait before retrying an overload answer, or undefined when it is not one. */
function retryAfter(status: number, headers: Answer['headers']): number | undefined {
  if (status !== 503 && status !== 429) return undefined;
  const seconds = Number(headers['retry-after']);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.min(seconds, MAX_RETRY_AFTER_SECONDS) : undefined;
}

export function startEngine({ url, scripts, maxSeconds, maxAnswers = Infinity, timeoutSeconds = 10 }: EngineOptions): Run {
  if (scripts.length === 0) throw new Error('load engine: no scripts');
  const result: EngineResult = {
    seconds: 0,
    answers: 0,
    lost: 0,
    replayed: 0,
    retriedAfter: {},
    statuses: {},
    latency: new LatencyHistogram(),
  };
  const origin = new URL(url).origin;
  const timeoutMs = timeoutSeconds * 1000;
  let stopping = false;
  const started = performance.now();
  const timer = setTimeout(() => (stopping = true), maxSeconds * 1000);

  /** Sends `step` until it has a final answer (replaying or retrying as above); a string is a lost request's kind. */
  const send = async (client: Client, step: Step, socket: { answered: number }): Promise<Answer | string> => {
    const first = performance.now();
    let replayed = false;
    for (;;) {
      const reused = socket.answered > 0;
      let headersCame = false;
      try {
        const res = await client.request(step);
        headersCame = true;
        const body = await res.body.text();
        socket.answered++;
        const wait = stopping ? undefined : retryAfter(res.statusCode, res.headers);
        if (wait === undefined) return { status: res.statusCode, headers: res.headers, body, latencyMs: performance.now() - first };
        result.retriedAfter[res.statusCode] = (result.retriedAfter[res.statusCode] ?? 0) + 1;
        await sleep(wait * 1000);
      } catch (err) {
        // Closed before any byte of answer on a reused socket: the server may have closed it as the request arrived.
        if (replayed || !reused || headersCame || !closedUnder(err)) return lostKind(err);
        replayed = true;
        result.replayed++;
      }
    }
  };

  const drive = async (script: Script) => {
    const client = new Client(origin, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs, pipelining: 1 });
    /** Answers on the current socket: a socket that answered before is a reused one. */
    const socket = { answered: 0 };
    client.on('connect', () => (socket.answered = 0));
    try {
      for (let step = script.next(); step && !stopping; step = stopping ? undefined : script.next()) {
        const answer = await send(client, step, socket);
        if (typeof answer === 'string') {
          result.lost++;
          script.lost(step, answer);
          continue;
        }
        result.answers++;
        result.statuses[answer.status] = (result.statuses[answer.status] ?? 0) + 1;
        result.latency.record(answer.latencyMs);
        script.answered(step, answer);
        if (result.answers >= maxAnswers) stopping = true;
      }
    } finally {
      await client.close().catch(() => client.destroy());
    }
  };

  const done = Promise.all(scripts.map(drive)).then(() => {
    clearTimeout(timer);
    result.seconds = (performance.now() - started) / 1000;
    return result;
  });
  return {
    counts: () => ({ requests: result.answers + result.lost, failures: result.lost }),
    stop() {
      stopping = true;
      return done;
    },
    done,
  };
}
