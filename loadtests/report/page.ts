/** The one page style of both reports (load test and bench): one self-contained HTML page, inline CSS, no script, nothing fetched. */
/** Text into HTML (element content and quoted attributes). */
export const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const h = escapeHtml;

const CSS = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a202c;margin:0;background:#f7fafc}
main{max-width:1260px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 6px}h2{font-size:21px;margin:0 0 10px}h3{font-size:16px;margin:8px 0 0}
.meta{color:#4a5568;font-size:13px}.meta code{background:#edf2f7;padding:1px 4px;border-radius:3px}
section{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:18px 20px;margin:18px 0}
.head{display:flex;gap:12px;align-items:center;flex-wrap:wrap}.head h2{margin:0}
.badge{font-size:12px;font-weight:700;text-transform:uppercase;padding:3px 9px;border-radius:999px;color:#fff}
.passed{background:#2f855a}.failed{background:#c53030}.measured{background:#2b6cb0}.skipped{background:#718096}
.proves{color:#2d3748;margin:8px 0 4px}.headline{font-weight:600;margin:6px 0 12px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:10px;margin:10px 0}
.card{border:1px solid #e2e8f0;border-left:5px solid #a0aec0;border-radius:6px;padding:8px 10px}
.card.ok{border-left-color:#38a169}.card.bad{border-left-color:#e53e3e}
.card .v{font-size:22px;font-weight:700}.card .u{font-size:14px;font-weight:600;color:#4a5568}.card .l{font-size:13px;color:#4a5568}.card .g{font-size:12px;color:#718096}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:14px}
.chart{margin:0 0 14px}.chart figcaption{font-weight:600;font-size:15px;margin-bottom:4px}.chart .unit{font-weight:400;color:#4a5568}
.chart svg{width:100%;height:auto;font-size:11px;fill:#4a5568}.chart svg.hbars{font-size:13px}
.chart .grid{stroke:#edf2f7}.chart .axis-line{stroke:#a0aec0}.chart .axis{font-size:12px;fill:#2d3748}
.chart .bar-label{font-size:11px;font-weight:700}.chart .marker{stroke:#4a5568;stroke-dasharray:4 3}.chart .marker-label{font-size:10px;fill:#1a202c;font-weight:600}
.chart .label{font-size:14px;fill:#1a202c;font-weight:600}.chart .note{font-size:13px;fill:#2d3748}
.legend{font-size:12px;color:#2d3748}.key{margin-right:12px;white-space:nowrap}
.key i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;vertical-align:-1px}
table{border-collapse:collapse;margin:8px 0 12px;font-size:13px;width:100%}
caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border-bottom:1px solid #e2e8f0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f7fafc}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td code{font-size:12px}
.bar{background:#bee3f8;height:10px;border-radius:2px;display:inline-block;margin-right:6px;vertical-align:middle}
.notes{color:#4a5568;font-size:13px;padding-left:18px}
.summary td:first-child{white-space:nowrap}
`;

/** The whole page around `body` (HTML). */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${h(title)}</title><style>${CSS}</style></head>
<body><main>
${body}
</main></body></html>
`;
}

/** A number as both reports write it: thousands separated, at most `digits` decimals; – when missing. */
export const fmt = (n: number | undefined, digits = 2) =>
  n === undefined ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits });

/** A right-aligned number cell. */
export const num = (n: number | undefined, digits = 2) => `<td class="n">${fmt(n, digits)}</td>`;

/** A table: `rows` are `<tr>` HTML, the caption and headings plain text. */
export function table(caption: string, head: string[], rows: string[]): string {
  const cap = caption ? `<caption>${h(caption)}</caption>` : '';
  return `<table>${cap}<thead><tr>${head.map((c) => `<th>${h(c)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** A bulleted list of notes (HTML); nothing when there are none. */
export const notes = (items: string[]) => (items.length ? `<ul class="notes">${items.map((n) => `<li>${n}</li>`).join('')}</ul>` : '');

/** A figure card: big value (HTML), label, and the goal, edged green or red when it was met or missed. */
export function card(value: string, label: string, goal?: string, ok?: boolean): string {
  const state = ok === undefined ? '' : ok ? ' ok' : ' bad';
  const mark = ok === undefined ? '' : ok ? ' ✓' : ' ✗';
  const g = goal ? `<div class="g">goal: ${h(goal)}${mark}</div>` : '';
  return `<div class="card${state}"><div class="v">${value}</div><div class="l">${h(label)}</div>${g}</div>`;
}
