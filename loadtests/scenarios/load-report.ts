/** Figures, tables and charts shared by the scenarios that run mixed traffic (sharing, rolling-restart, crash). */
import type { LoadResult } from '../load/run-load.js';
import type { Chart, Figure, Table } from './types.js';

export type Marker = { x: number; label: string };

export function loadFigures(result: LoadResult): Figure[] {
  return [
    { label: 'requests', value: result.requests },
    { label: 'throughput', value: result.requestsPerSecond, unit: 'req/s' },
    { label: 'latency p50', value: result.latencyMs.p50, unit: 'ms' },
    { label: 'latency p90', value: result.latencyMs.p90, unit: 'ms' },
    { label: 'latency p99', value: result.latencyMs.p99, unit: 'ms' },
  ];
}

/** Failed requests and lost sessions (during the load, plus users whose final /api/me was not 200), with goal 0. */
export function failureFigures(result: LoadResult, lostAtEnd: number) {
  const sessionsLost = result.sessionsLost + lostAtEnd;
  const failed: Figure = { label: 'failed requests', value: result.failures, goal: '0', ok: result.failures === 0 };
  const lost: Figure = { label: 'sessions lost', value: sessionsLost, goal: '0', ok: sessionsLost === 0 };
  const replayed: Figure = { label: 'requests replayed after an idle keep-alive close', value: result.replayed };
  return { failed, lost, replayed, ok: failed.ok! && lost.ok! };
}

export function failureTables(result: LoadResult): Table[] {
  const tables: Table[] = [];
  if (result.failedRequests.length) {
    tables.push({
      title: 'Failures by kind',
      columns: ['kind', 'count'],
      rows: Object.entries(result.failuresByKind).sort(([, a], [, b]) => b - a),
    });
    tables.push({
      title: 'Failed requests',
      columns: ['method', 'path', 'kind', 'count'],
      rows: result.failedRequests.map((f) => [f.method, f.path, f.kind, f.count]),
    });
    tables.push({
      title: 'First failures',
      columns: ['at (s)', 'request', 'kind', 'detail'],
      rows: result.examples.map((e) => [e.t.toFixed(1), e.request, e.kind, e.detail]),
    });
  }
  return tables;
}

export function instanceTable(result: LoadResult): Table {
  const total = Object.values(result.instances).reduce((a, b) => a + b, 0) || 1;
  return {
    title: 'Share of responses per replica (X-Instance)',
    columns: ['instance', 'responses', 'share'],
    rows: Object.entries(result.instances).map(([id, n]) => [id, n, n / total]),
    barColumn: 2,
  };
}

/** Latency (p50, p99) and requests/failures per second, with the scenario's events marked. */
export function timelineCharts(result: LoadResult, markers: Marker[] = []): Chart[] {
  const t = result.timeline;
  return [
    {
      title: 'Latency per second',
      x: 'seconds',
      y: 'ms',
      series: [
        { name: 'p99', points: t.map((s) => [s.t, s.p99]), color: '#d9822b' },
        { name: 'p50', points: t.map((s) => [s.t, s.p50]), color: '#2b6cb0' },
      ],
      markers,
    },
    {
      title: 'Requests and failed requests per second',
      x: 'seconds',
      y: 'requests / s',
      series: [
        { name: 'requests', points: t.map((s) => [s.t, s.requests]), bars: true, color: '#a0aec0' },
        { name: 'failed', points: t.map((s) => [s.t, s.failures]), bars: true, labelled: true, color: '#e53e3e' },
      ],
      markers,
    },
  ];
}
