/** The load-test report as one self-contained page (./page.ts): a summary table, then each scenario's figures, charts and tables. */
import type { Figure, ScenarioResult, Table } from '../scenarios/types.js';
import { renderChart } from './chart.js';
import { card, escapeHtml as h, notes, page, table } from './page.js';
import { formatValue, type Report } from './report.js';

function figureCard(f: Figure): string {
  const unit = f.unit ? ` <span class="u">${h(f.unit)}</span>` : '';
  return card(`${h(formatValue(f.value))}${unit}`, f.label, f.goal, f.ok);
}

function tableHtml(t: Table): string {
  const cell = (v: string | number, i: number) => {
    if (i === t.barColumn && typeof v === 'number') {
      return `<td><span class="bar" style="width:${Math.round(v * 160)}px"></span>${(v * 100).toFixed(1)} %</td>`;
    }
    return typeof v === 'number' ? `<td class="n">${h(formatValue(v))}</td>` : `<td>${h(v)}</td>`;
  };
  const rows = t.rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`);
  return table(t.title, t.columns, rows);
}

function section(s: ScenarioResult): string {
  const figures = s.figures.length ? `<div class="cards">${s.figures.map(figureCard).join('')}</div>` : '';
  const charts = s.charts.length ? `<div class="charts">${s.charts.map(renderChart).join('')}</div>` : '';
  return `<section id="${h(s.name)}">
<div class="head"><h2>${h(s.title)}</h2><span class="badge ${s.status}">${s.status}</span><code>${h(s.name)}</code><span class="meta">${s.seconds.toFixed(0)} s</span></div>
<p class="proves">${h(s.proves)}</p>
<p class="headline">${h(s.headline)}</p>
${figures}${charts}${s.tables.map(tableHtml).join('')}${notes(s.notes.map(h))}
</section>`;
}

export function renderHtml(report: Report): string {
  const m = report.machine;
  const summary = report.scenarios.map(
    (s) =>
      `<tr><td><a href="#${h(s.name)}">${h(s.name)}</a></td><td><span class="badge ${s.status}">${s.status}</span></td><td>${h(s.headline)}</td></tr>`,
  );
  return page(
    `Load test ${report.startedAt}`,
    `<h1>Load test: sessions shared, surviving restarts, memory flat</h1>
<p class="meta">${h(report.startedAt)} · <code>${h(report.command)}</code><br>
Target: ${h(report.target)}<br>
Machine: ${m.cpus} × ${h(m.cpuModel)}, ${m.memoryGB} GB, Node ${h(m.node)} on ${h(m.platform)}; load average ${m.loadBefore} at the start, ${m.loadAfter ?? '?'} at the end
(the load generator, nginx, the replicas and PostgreSQL share these cores: compare figures between runs on the same machine only).</p>
<section class="summary">${table('', ['scenario', 'result', 'figures'], summary)}</section>
${report.scenarios.map(section).join('\n')}`,
  );
}
