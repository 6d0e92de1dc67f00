/** Writes results/loadtest-<timestamp>.json and .html, and the figures as text for the terminal. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderHtml } from './html.js';
import { formatValue, type Report } from './report.js';

/** A file-name-safe timestamp: 2025-11-22T09-15-02. */
export const stamp = (date = new Date()) => date.toISOString().slice(0, 19).replace(/:/g, '-');

/** Writes <dir>/<name>.json (`data`) and then <dir>/<name>.html (what `render` returns); returns both paths. */
export function writeJsonAndHtml(dir: string, name: string, data: unknown, render: () => string): { json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, `${name}.json`);
  const html = join(dir, `${name}.html`);
  writeFileSync(json, `${JSON.stringify(data, null, 2)}\n`);
  writeFileSync(html, render());
  return { json, html };
}

export function writeReport(report: Report, dir: string, name: string): { json: string; html: string } {
  return writeJsonAndHtml(dir, name, report, () => renderHtml(report));
}

export function textSummary(report: Report): string {
  const lines: string[] = [];
  for (const s of report.scenarios) {
    lines.push(`${s.status.toUpperCase().padEnd(8)} ${s.name}: ${s.headline}`);
    for (const f of s.figures) {
      const goal = f.goal ? `  (goal ${f.goal}${f.ok === undefined ? '' : f.ok ? ', met' : ', NOT met'})` : '';
      lines.push(`           ${f.label}: ${formatValue(f.value, f.unit)}${goal}`);
    }
  }
  return lines.join('\n');
}
