/** Writes results/bench-<timestamp>.json (the record and its summary) and .html, and the figures as text for the terminal. */
import { writeJsonAndHtml } from '../report/write.js';
import { othersLine, renderBenchHtml } from './html.js';
import type { BenchRecord, BenchSummary } from './summary.js';

function textSummary(record: BenchRecord, summary: BenchSummary): string {
  const lines = [
    'run                              req/s   ×Mem  ×redis  p50 ms  p99 ms  errors  stmts/req  reads/req  row writes/read  CPU s/1k req',
  ];
  const f = (n: number | undefined, w: number, d = 2) => (n === undefined ? '–' : n.toFixed(d)).padStart(w);
  for (const r of summary.runs) {
    lines.push(
      `${r.label.padEnd(30)}${f(r.requestsPerSecond, 8, 0)}${f(r.vsMemory, 7)}${f(r.vsRedis, 8)}${f(r.p50, 8)}${f(r.p99, 8)}${f(r.errors, 8, 0)}` +
        `${f(r.statementsPerRequest, 11, 3)}${f(r.sessionReadsPerRequest, 11, 3)}${f(r.rowWritesPerRead, 17, 4)}${f(r.cpuPer1000.total, 14, 3)}`,
    );
  }
  lines.push('', `Load average ${record.machine.loadBefore} before the bench. ${othersLine(record)}`, '', 'Targets (this project):');
  for (const t of summary.targets) lines.push(`  ${t.met ? 'met    ' : 'NOT met'}  ${t.name} ${t.goal}: ${t.value}`);
  return lines.join('\n');
}

export function writeBenchReport(
  record: BenchRecord,
  summary: BenchSummary,
  dir: string,
  name: string,
): { json: string; html: string; text: string } {
  const { json, html } = writeJsonAndHtml(dir, name, { ...record, summary }, () => renderBenchHtml(record, summary));
  return { json, html, text: textSummary(record, summary) };
}
