/**
 * The benchmark's traffic, the same for every variant: fixed concurrency, keep-alive, logged-in sessions, and per
 * session visit nine `GET /api/me` reads then one `POST /api/cart` write (10 % writes). Each connection cycles through
 * its own share of the sessions. Runs with autocannon (https://github.com/mcollina/autocannon) for a fixed time.
 *
 * The app caps a cart at 50 items, and sessions are logged in once for the whole bench: a session that has had 50
 * writes gets reads instead, counted as `writesSkipped` (sized away by --sessions; the report shows it).
 */
import autocannon from 'autocannon';
import { CART_LIMIT, type VirtualUser } from '../users.js';
import { latencySummary, percentile, round, type Latency } from '../stats.js';

const READS_PER_WRITE = 9;

export interface TrafficResult {
  seconds: number;
  /** Answered requests, whatever the status. */
  requests: number;
  requestsPerSecond: number;
  /** 2xx answers to reads and to writes. */
  reads: number;
  writes: number;
  /** Non-2xx answers, connection errors and timeouts. */
  errors: number;
  statuses: Record<string, number>;
  writesSkipped: number;
  latencyMs: Latency;
  /** p99 of the reads and of the writes apart (a durable write waits for its commit). */
  readP99: number;
  writeP99: number;
}

/** Writes issued per session over the whole bench (carts fill up across runs). */
const writesIssued = new WeakMap<VirtualUser, number>();

type Counts = { reads: number; writes: number; writesSkipped: number };
/** What the connection's last answer was: autocannon reports the latency just after the request's onResponse. */
type Answered = { write: boolean };

function connectionRequests(sessions: VirtualUser[], counts: Counts, answered: Answered): autocannon.Request[] {
  let visit = 0;
  const current = () => sessions[visit % sessions.length]!;
  const countRead = (status: number) => {
    answered.write = false;
    if (status >= 200 && status < 300) counts.reads++;
  };
  const read: autocannon.Request = {
    method: 'GET',
    path: '/api/me',
    setupRequest: (req) => ({ ...req, method: 'GET', path: '/api/me', headers: { cookie: current().cookie } }),
    onResponse: countRead,
  };
  let wrote = false;
  const write: autocannon.Request = {
    method: 'POST',
    path: '/api/cart',
    setupRequest: (req) => {
      const user = current();
      visit++; // the next read belongs to the connection's next session
      const issued = writesIssued.get(user) ?? 0;
      wrote = issued < CART_LIMIT;
      if (!wrote) {
        counts.writesSkipped++;
        return { ...req, method: 'GET', path: '/api/me', headers: { cookie: user.cookie } };
      }
      writesIssued.set(user, issued + 1);
      const headers = { cookie: user.cookie, 'x-csrf-token': user.csrfToken, 'content-type': 'application/json' };
      return { ...req, method: 'POST', path: '/api/cart', headers, body: JSON.stringify({ item: `item-${issued + 1}` }) };
    },
    onResponse: (status) => {
      if (!wrote) return countRead(status);
      answered.write = true;
      if (status >= 200 && status < 300) counts.writes++;
    },
  };
  // autocannon keeps each request's built buffer on its object: one object per position.
  return [...Array.from({ length: READS_PER_WRITE }, () => ({ ...read })), write];
}

export async function runTraffic(opts: {
  url: string;
  sessions: VirtualUser[];
  connections: number;
  seconds: number;
}): Promise<TrafficResult> {
  const { url, sessions, connections, seconds } = opts;
  if (sessions.length < connections) throw new Error(`${sessions.length} sessions cannot serve ${connections} connections`);
  const counts: Counts = { reads: 0, writes: 0, writesSkipped: 0 };
  const answeredBy = new WeakMap<object, Answered>();
  const reads: number[] = [];
  const writes: number[] = [];
  let assigned = 0;
  const started = process.hrtime.bigint();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections,
        duration: seconds,
        timeout: 10,
        // autocannon builds one client per connection, in order: each gets every `connections`-th session.
        setupClient(client) {
          const index = assigned++;
          const own = sessions.filter((_, i) => i % connections === index);
          const answered = { write: false };
          answeredBy.set(client, answered);
          (client as unknown as { setRequests(r: autocannon.Request[]): void }).setRequests(connectionRequests(own, counts, answered));
        },
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    instance.on('response', (client: object, _status: number, _bytes: number, latencyMs: number) =>
      (answeredBy.get(client)?.write ? writes : reads).push(latencyMs),
    );
  });
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const byValue = (a: number, b: number) => a - b;
  const sorted = [...reads, ...writes].sort(byValue);
  reads.sort(byValue);
  writes.sort(byValue);
  const statuses = Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {}).map(([code, v]) => [code, (v as { count: number }).count]),
  );
  return {
    seconds: round(elapsed, 2),
    requests: sorted.length,
    requestsPerSecond: round(sorted.length / elapsed, 0),
    reads: counts.reads,
    writes: counts.writes,
    errors: result.non2xx + result.errors,
    statuses,
    writesSkipped: counts.writesSkipped,
    latencyMs: latencySummary(sorted),
    readP99: round(percentile(reads, 99), 2),
    writeP99: round(percentile(writes, 99), 2),
  };
}
