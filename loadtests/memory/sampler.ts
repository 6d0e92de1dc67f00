/**
 * Memory of the replicas as a container limit sees it: resident set size (RSS, what `docker stats` and the kubelet
 * count), and beside it the V8 heap in use, per replica, as the process runs: no forced garbage collection.
 * Local replicas: RSS from /proc/<pid>/status (VmRSS), heap from the replica's own metrics port. A --url deployment:
 * the one replica whose metrics port --metrics-url names (prom-client's process_resident_memory_bytes for RSS); its
 * `instance` label names it.
 */
import { readFile } from 'node:fs/promises';
import type { Cluster } from '../../infra/cluster.js';

export interface MemorySample {
  /** The replica's INSTANCE_ID (the `instance` label of its metrics, its X-Instance header). */
  instance: string;
  rssMB: number;
  heapMB: number;
}

const MB = 1024 * 1024;

/** The value of a metric and its `instance` label, from Prometheus text. */
function metric(text: string, name: string): { value: number; instance: string } | undefined {
  const match = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)`, 'm').exec(text);
  if (!match) return undefined;
  const instance = /instance="([^"]*)"/.exec(match[1]!)?.[1] ?? '';
  return { value: Number(match[2]), instance };
}

/** `baseUrl` is a replica's metrics port (the app port and the balancer have no /metrics). */
async function metricsText(baseUrl: string): Promise<string> {
  const res = await fetch(new URL('/metrics', baseUrl), { signal: AbortSignal.timeout(5_000) });
  if (res.status !== 200) throw new Error(`${baseUrl}/metrics answered HTTP ${res.status}`);
  return res.text();
}

async function vmRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb) * 1024;
}

export interface Sampler {
  sample(): Promise<MemorySample[]>;
}

/** Every replica of a local cluster, each asked directly (not through nginx). */
export function clusterSampler(cluster: Cluster): Sampler {
  return {
    sample: () =>
      Promise.all(
        cluster.replicas().map(async (replica) => {
          const [text, rss] = await Promise.all([metricsText(replica.metricsUrl), vmRssBytes(replica.pid)]);
          const heap = metric(text, 'nodejs_heap_size_used_bytes');
          if (!heap) throw new Error(`no nodejs_heap_size_used_bytes in ${replica.metricsUrl}/metrics`);
          return { instance: heap.instance, rssMB: rss / MB, heapMB: heap.value / MB };
        }),
      ),
  };
}

/** The one replica whose metrics port is `url`. */
export function urlSampler(url: string): Sampler {
  return {
    async sample() {
      const text = await metricsText(url);
      const heap = metric(text, 'nodejs_heap_size_used_bytes');
      const rss = metric(text, 'process_resident_memory_bytes');
      if (!heap || !rss) throw new Error(`${url}/metrics lacks nodejs_heap_size_used_bytes or process_resident_memory_bytes`);
      return [{ instance: heap.instance, rssMB: rss.value / MB, heapMB: heap.value / MB }];
    },
  };
}
