/**
 * The benchmark's traffic, the same for every variant: fixed concurrency, keep-alive, logged-in sessions, and per
 * session visit nine `GET /api/me` reads then one `POST /api/cart` write (10 % writes). Each connection cycles through
 * its own share of the sessions. Runs on the load engine (../load/engine.ts) for a fixed time.
 *
 * The app caps a cart at 50 items, and sessions are logged in once for the whole bench: a session that has had 50
 * writes gets reads instead, counted as `writesSkipped` (sized away by --sessions; the report shows it).
 */
import { CART_LIMIT, type VirtualUser } from '../users.js';
import { startEngine, type Script, type Step } from '../load/engine.js';
import { LatencyHistogram, type Latency } from '../load/histogram.js';
import { round } from '../stats.js';

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

type Counts = { reads: number; writes: number; writesSkipped: number; readLatency: LatencyHistogram; writeLatency: LatencyHistogram };

/** One connection: per session visit, nine reads then one write, then the next of its sessions. */
function connectionScript(sessions: VirtualUser[], counts: Counts): Script {
  let visit = 0;
  let position = 0;
  let wrote = false;
  const read = (user: VirtualUser): Step => ({ method: 'GET', path: '/api/me', headers: { cookie: user.cookie } });
  return {
    next() {
      const user = sessions[visit % sessions.length]!;
      wrote = false;
      if (position++ % (READS_PER_WRITE + 1) < READS_PER_WRITE) return read(user);
      visit++; // the next read belongs to the connection's next session
      const issued = writesIssued.get(user) ?? 0;
      if (issued >= CART_LIMIT) {
        counts.writesSkipped++;
        return read(user);
      }
      wrote = true;
      writesIssued.set(user, issued + 1);
      const headers = { cookie: user.cookie, 'x-csrf-token': user.csrfToken, 'content-type': 'application/json' };
      return { method: 'POST', path: '/api/cart', headers, body: JSON.stringify({ item: `item-${issued + 1}` }) };
    },
    answered(_step, { status, latencyMs }) {
      const ok = status >= 200 && status < 300;
      if (wrote) {
        counts.writeLatency.record(latencyMs);
        if (ok) counts.writes++;
      } else {
        counts.readLatency.record(latencyMs);
        if (ok) counts.reads++;
      }
    },
    lost: () => {},
  };
}

export async function runTraffic(opts: {
  url: string;
  sessions: VirtualUser[];
  connections: number;
  seconds: number;
}): Promise<TrafficResult> {
  const { url, sessions, connections, seconds } = opts;
  if (sessions.length < connections) throw new Error(`${sessions.length} sessions cannot serve ${connections} connections`);
  const counts: Counts = {
    reads: 0,
    writes: 0,
    writesSkipped: 0,
    readLatency: new LatencyHistogram(),
    writeLatency: new LatencyHistogram(),
  };
  // Connection i serves every `connections`-th session.
  const share = (i: number) => sessions.filter((_, j) => j % connections === i);
  const scripts = Array.from({ length: connections }, (_, i) => connectionScript(share(i), counts));
  const result = await startEngine({ url, scripts, maxSeconds: seconds }).done;
  const ok = counts.reads + counts.writes;
  return {
    seconds: round(result.seconds, 2),
    requests: result.answers,
    requestsPerSecond: round(result.answers / result.seconds, 0),
    reads: counts.reads,
    writes: counts.writes,
    errors: result.answers - ok + result.lost,
    statuses: result.statuses,
    writesSkipped: counts.writesSkipped,
    latencyMs: result.latency.summary(),
    readP99: counts.readLatency.percentile(99),
    writeP99: counts.writeLatency.percentile(99),
  };
}
