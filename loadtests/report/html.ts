/** The report as one self-contained HTML page: inline CSS and SVG, no script, nothing fetched. */
import type { Figure, ScenarioResult, Table } from '../scenarios/types.js';
import { escapeHtml as h } from './escape.js';
import { formatValue, type Report } from './report.js';
import { renderChart } from './svg-chart.js';

const CSS = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a202c;margin:0;background:#f7fafc}
main{max-width:1260px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:21px;margin:0}
.meta{color:#4a5568;font-size:13px}.meta code{background:#edf2f7;padding:1px 4px;border-radius:3px}
section{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:18px 20px;margin:18px 0}
.head{display:flex;gap:12px;align-items:center;flex-wrap:wrap}
.badge{font-size:12px;font-weight:700;text-transform:uppercase;padding:3px 9px;border-radius:999px;color:#fff}
.passed{background:#2f855a}.failed{background:#c53030}.measured{background:#2b6cb0}.skipped{background:#718096}
.proves{color:#2d3748;margin:8px 0 4px}.headline{font-weight:600;margin:6px 0 12px}
.figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:10px;margin:10px 0}
.figure{border:1px solid #e2e8f0;border-left:5px solid #a0aec0;border-radius:6px;padding:8px 10px}
.figure.ok{border-left-color:#38a169}.figure.bad{border-left-color:#e53e3e}
.figure .v{font-size:24px;font-weight:700}.figure .u{font-size:14px;font-weight:600;color:#4a5568}.figure .l{font-size:13px;color:#4a5568}.figure .g{font-size:12px;color:#718096}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:14px}
.chart{margin:0}.chart figcaption{font-weight:600;font-size:14px;margin-bottom:2px}
.chart svg{width:100%;height:auto;font-size:11px;fill:#4a5568}
.chart .grid{stroke:#edf2f7}.chart .axis-line{stroke:#a0aec0}.chart .axis{font-size:12px;fill:#2d3748}
.chart .bar-label{font-size:11px;font-weight:700}.chart .marker{stroke:#4a5568;stroke-dasharray:4 3}.chart .marker-label{font-size:10px;fill:#1a202c;font-weight:600}
.legend{font-size:12px;color:#2d3748}.key{margin-right:12px;white-space:nowrap}
.key i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;vertical-align:-1px}
table{border-collapse:collapse;margin:10px 0;font-size:13px;width:100%}
caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border-bottom:1px solid #e2e8f0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f7fafc}td.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{background:#bee3f8;height:10px;border-radius:2px;display:inline-block;margin-right:6px;vertical-align:middle}
.notes{color:#4a5568;font-size:13px;padding-left:18px}
.summary td:first-child{white-space:nowrap}
`;

function figureCard(f: Figure): string {
  const state = f.ok === undefined ? '' : f.ok ? ' ok' : ' bad';
  const goal = f.goal ? `<div class="g">goal: ${h(f.goal)}${f.ok === undefined ? '' : f.ok ? ' ✓' : ' ✗'}</div>` : '';
  const unit = f.unit ? ` <span class="u">${h(f.unit)}</span>` : '';
  return `<div class="figure${state}"><div class="v">${h(formatValue(f.value))}${unit}</div><div class="l">${h(f.label)}</div>${goal}</div>`;
}

function tableHtml(t: Table): string {
  const cell = (v: string | number, i: number) => {
    if (i === t.barColumn && typeof v === 'number') {
      return `<td><span class="bar" style="width:${Math.round(v * 160)}px"></span>${(v * 100).toFixed(1)} %</td>`;
    }
    return typeof v === 'number' ? `<td class="n">${h(formatValue(v))}</td>` : `<td>${h(v)}</td>`;
  };
  const head = t.columns.map((c) => `<th>${h(c)}</th>`).join('');
  const rows = t.rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('');
  return `<table><caption>${h(t.title)}</caption><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>`;
}

function section(s: ScenarioResult): string {
  const figures = s.figures.length ? `<div class="figures">${s.figures.map(figureCard).join('')}</div>` : '';
  const charts = s.charts.length ? `<div class="charts">${s.charts.map(renderChart).join('')}</div>` : '';
  const notes = s.notes.length ? `<ul class="notes">${s.notes.map((n) => `<li>${h(n)}</li>`).join('')}</ul>` : '';
  return `<section id="${h(s.name)}">
<div class="head"><h2>${h(s.title)}</h2><span class="badge ${s.status}">${s.status}</span><code>${h(s.name)}</code><span class="meta">${s.seconds.toFixed(0)} s</span></div>
<p class="proves">${h(s.proves)}</p>
<p class="headline">${h(s.headline)}</p>
${figures}${charts}${s.tables.map(tableHtml).join('')}${notes}
</section>`;
}

export function renderHtml(report: Report): string {
  const m = report.machine;
  const summary = report.scenarios
    .map(
      (s) =>
        `<tr><td><a href="#${h(s.name)}">${h(s.name)}</a></td><td><span class="badge ${s.status}">${s.status}</span></td><td>${h(s.headline)}</td></tr>`,
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Load test ${h(report.startedAt)}</title><style>${CSS}</style></head>
<body><main>
<h1>Load test: sessions shared, surviving restarts, memory flat</h1>
<p class="meta">${h(report.startedAt)} · <code>${h(report.command)}</code><br>
Target: ${h(report.target)}<br>
Machine: ${m.cpus} × ${h(m.cpuModel)}, ${m.memoryGB} GB, Node ${h(m.node)} on ${h(m.platform)}; load average ${m.loadBefore} at the start, ${m.loadAfter ?? '?'} at the end
(the load generator, nginx, the replicas and PostgreSQL share these cores: compare figures between runs on the same machine only).</p>
<section><table class="summary"><thead><tr><th>scenario</th><th>result</th><th>figures</th></tr></thead><tbody>${summary}</tbody></table></section>
${report.scenarios.map(section).join('\n')}
</main></body></html>
`;
}
