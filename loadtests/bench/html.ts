/** The bench report as one self-contained HTML page: inline CSS and SVG, no script, nothing fetched. */
import { escapeHtml as h } from '../report/escape.js';
import { renderChart } from '../report/svg-chart.js';
import { barChart, type Bar } from './bars.js';
import type { BenchRecord, BenchSummary, RunSummary } from './summary.js';
import { databaseOf, VARIANTS } from './variants.js';

const CSS = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a202c;margin:0;background:#f7fafc}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 6px}h2{font-size:20px;margin:0 0 10px}h3{font-size:16px;margin:8px 0 0}
.meta{color:#4a5568;font-size:13px}.meta code{background:#edf2f7;padding:1px 4px;border-radius:3px}
section{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:16px 20px;margin:16px 0}
.targets{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:10px}
.target{border:1px solid #e2e8f0;border-left:6px solid #a0aec0;border-radius:6px;padding:8px 12px}
.target.met{border-left-color:#38a169}.target.missed{border-left-color:#e53e3e}
.target .v{font-size:19px;font-weight:700}.target .n{font-size:13px;color:#4a5568}
.target .s{font-size:12px;font-weight:700;text-transform:uppercase}.met .s{color:#2f855a}.missed .s{color:#c53030}
.chart{margin:0 0 18px}.chart figcaption{font-weight:600;font-size:15px;margin-bottom:4px}.chart .unit{font-weight:400;color:#4a5568}
.chart svg{width:100%;height:auto;font-size:13px;fill:#4a5568}
.chart .grid{stroke:#edf2f7}.chart .axis-line{stroke:#a0aec0}.chart .axis{font-size:12px;fill:#2d3748}
.chart .label{font-size:14px;fill:#1a202c;font-weight:600}.chart .note{font-size:13px;fill:#2d3748}
.charts2{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:14px}
.legend{font-size:12px;color:#2d3748}.key{margin-right:12px;white-space:nowrap}
.key i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;vertical-align:-1px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px;width:100%}
caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border-bottom:1px solid #e2e8f0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f7fafc}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td code{font-size:12px}.notes{color:#4a5568;font-size:13px;padding-left:18px}
`;

const COLORS: Record<string, string> = {
  memory: '#718096',
  'pg-defaults': '#dd6b20',
  project: '#2b6cb0',
  redis: '#c53030',
  pgbench: '#805ad5',
  nginx: '#38a169',
  'project-1': '#90cdf4',
  'project-2': '#4299e1',
  'redis-1': '#fc8181',
  'memory-lone': '#a0aec0',
  'project-lone': '#bee3f8',
};
/** The runs compared in the bar charts: 1 replica each, then 3 each. */
const CONTENDERS = ['memory', 'project-1', 'redis-1', 'pg-defaults', 'project', 'redis'];
const CPU_COLORS = { replicas: '#2b6cb0', postgres: '#805ad5', redis: '#c53030', nginx: '#38a169', loadGenerator: '#a0aec0' };
const CPU_NAMES = { replicas: 'app replicas', postgres: 'PostgreSQL', redis: 'Redis', nginx: 'nginx', loadGenerator: 'load generator' };

const fmt = (n: number | undefined, digits = 2) => (n === undefined ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits }));
const times = (n: number | undefined) => (n === undefined ? '' : `${fmt(n)}×`);
const num = (n: number | undefined, digits = 2) => `<td class="n">${fmt(n, digits)}</td>`;
const isCeiling = (r: RunSummary) => r.run === 'pgbench' || r.run === 'nginx';

function ratios(r: RunSummary, of: 'vsMemory' | 'vsRedis' | 'p99VsMemory'): string {
  if (r.run === 'pgbench') return '';
  const parts =
    of === 'p99VsMemory'
      ? [r.run !== 'memory' && `${times(r.p99VsMemory)} MemoryStore`]
      : [
          r.run !== 'memory' && `${times(r.vsMemory)} MemoryStore`,
          !r.run.startsWith('redis') && r.vsRedis !== undefined && `${times(r.vsRedis)} redis on as many replicas`,
        ];
  const text = parts.filter(Boolean).join(' · ');
  return text ? ` · ${text}` : '';
}

function charts(summary: BenchSummary): string {
  const contenders = summary.runs.filter((r) => CONTENDERS.includes(r.run));
  const ceilings = summary.runs.filter(isCeiling);
  const throughput: Bar[] = contenders.map((r) => ({
    label: r.label,
    segments: [{ name: 'req/s', value: r.requestsPerSecond, color: COLORS[r.run]! }],
    note: `${fmt(r.requestsPerSecond, 0)}${ratios(r, 'vsMemory')}`,
  }));
  const p99: Bar[] = contenders.map((r) => ({
    label: r.label,
    segments: [{ name: 'p99', value: r.p99, color: COLORS[r.run]! }],
    note: `${fmt(r.p99)} ms (p50 ${fmt(r.p50)})${ratios(r, 'p99VsMemory')}`,
  }));
  const ceiling: Bar[] = ceilings.map((r) => ({
    label: r.run === 'pgbench' ? 'pgbench -S (transactions/s)' : `${r.label} (req/s)`,
    segments: [{ name: 'per second', value: r.requestsPerSecond, color: COLORS[r.run]! }],
    note: `${fmt(r.requestsPerSecond, 0)}, p99 ${fmt(r.p99)} ms`,
    muted: true,
  }));
  const cpu: Bar[] = summary.runs
    .filter((r) => CONTENDERS.includes(r.run) || r.run === 'nginx')
    .map((r) => ({
      label: r.label,
      segments: (Object.keys(CPU_COLORS) as Array<keyof typeof CPU_COLORS>)
        .filter((k) => r.cpuPer1000[k] > 0)
        .map((k) => ({ name: CPU_NAMES[k], value: r.cpuPer1000[k], color: CPU_COLORS[k] })),
      note: `${fmt(r.cpuPer1000.total, 3)} s`,
      muted: isCeiling(r),
    }));
  const memory = summary.runs.find((r) => r.run === 'memory');
  const redis = [summary.runs.find((r) => r.run === 'redis-1'), summary.runs.find((r) => r.run === 'redis')];
  const flat = (name: string, value: number | undefined, color: string) =>
    value === undefined
      ? []
      : [
          {
            name,
            points: [
              [1, value],
              [3, value],
            ] as Array<[number, number]>,
            color,
          },
        ];
  const scalingChart = (title: string, y: string, key: 'requestsPerSecond' | 'p99') =>
    renderChart({
      title,
      x: 'replicas behind nginx',
      y,
      series: [
        { name: 'this project', points: summary.scaling.map((p) => [p.replicas, p[key]]), color: COLORS.project },
        ...flat('MemoryStore, 1 replica', memory?.[key], COLORS.memory!),
        {
          name: 'connect-redis, 1 and 3 replicas',
          points: redis.flatMap((r, i) => (r ? [[i * 2 + 1, r[key]] as [number, number]] : [])),
          color: COLORS.redis!,
        },
      ],
    });
  const scaling = scalingChart(
    'This project: throughput on 1, 2 and 3 replicas (same nginx, same PostgreSQL)',
    'req/s',
    'requestsPerSecond',
  );
  const scalingP99 = scalingChart('This project: p99 latency on 1, 2 and 3 replicas', 'p99 ms', 'p99');
  return `<section><h2>Side by side</h2>
${barChart('Throughput, median of the rounds', 'requests per second', throughput)}
${barChart('p99 latency, median of the rounds', 'milliseconds', p99)}
${barChart('CPU per 1,000 requests, by process', 'CPU seconds, all cores', cpu)}
<div class="charts2">${scaling}${scalingP99}</div>
${ceiling.length ? barChart('Ceilings of this machine', 'per second', ceiling) : ''}</section>`;
}

function table(caption: string, head: string[], rows: string[]): string {
  return `<table><caption>${h(caption)}</caption><thead><tr>${head.map((c) => `<th>${h(c)}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function runsTables(summary: BenchSummary): string {
  const speed = summary.runs.map(
    (r) =>
      `<tr><td>${h(r.label)}</td>${num(r.requestsPerSecond, 0)}${num(r.vsMemory)}${num(r.vsRedis)}${num(r.p50)}${num(r.p99)}${num(r.p99VsMemory)}${num(r.readP99)}${r.run === 'pgbench' ? '<td></td>' : num(r.writeP99)}${num(r.errors, 0)}${num(r.requests, 0)}</tr>`,
  );
  const cost = summary.runs.map(
    (r) =>
      `<tr><td>${h(r.label)}</td>${num(r.statementsPerRequest, 3)}${num(r.sessionReadsPerRequest, 3)}${num(r.redisCommandsPerRequest, 3)}${num(r.rowWritesPerRequest, 4)}${num(r.rowWritesPerRead, 4)}${num(r.cpuPer1000.total, 3)}${num(r.cpuPer1000.replicas, 3)}${num(r.cpuPer1000.postgres, 3)}${num(r.cpuPer1000.redis, 3)}${num(r.cpuPer1000.nginx, 3)}${num(r.cpuPer1000.loadGenerator, 3)}</tr>`,
  );
  return `<section><h2>Every run, medians of the rounds</h2>
${table('Speed', ['run', 'req/s (pgbench: tps)', '× MemoryStore', '× connect-redis', 'p50 ms', 'p99 ms', 'p99 × MemoryStore', 'p99 of reads', 'p99 of writes', 'errors', 'requests, all rounds'], speed)}
${table('Cost per request', ['run', 'PG statements', '… of them session reads', 'Redis commands', 'session row writes', '… per read-only request', 'CPU s / 1k req', 'app replicas', 'PostgreSQL', 'Redis', 'nginx', 'load generator'], cost)}
<ul class="notes">
<li>Ratios are throughput (or p99) divided by the medians of MemoryStore (1 replica) and of connect-redis on as many replicas (1 or 3; none for the lone-client runs). pgbench counts transactions (one primary-key SELECT each), not HTTP requests.</li>
<li>Session row writes: PostgreSQL's own count (pg_stat_user_tables n_tup_ins + n_tup_upd + n_tup_del on <code>session</code>) over every measured run on the variant's database, read once the counts had settled; per read-only request: all of them charged to the reads (a cart write keeps its items in <code>cart_items</code> and only touches the session row as a read does), an upper bound. The scaling runs share the project's database and its figure.</li>
<li>CPU: utime + stime from /proc of the replicas, PostgreSQL (postmaster and backends), redis-server, nginx (master and worker) and the bench process running autocannon, per 1,000 answered requests.</li>
</ul></section>`;
}

function statementsTables(record: BenchRecord): string {
  const tables = VARIANTS.filter((v) => v.database && record.statements[v.database]?.length).map((v) => {
    const requests = record.runs.filter((r) => databaseOf(r.run) === v.database).reduce((s, r) => s + r.requests, 0);
    const rows = record.statements[v.database!]!.slice(0, 8).map(
      (s) =>
        `<tr><td><code>${h(s.query.length > 150 ? `${s.query.slice(0, 150)}…` : s.query)}</code></td>${num(s.calls / Math.max(1, requests), 3)}${num(s.rows / Math.max(1, s.calls), 2)}${num(s.execMs / Math.max(1, s.calls), 3)}</tr>`,
    );
    return table(
      `${v.label} (${fmt(requests, 0)} requests measured)`,
      ['statement (pg_stat_statements)', 'calls / request', 'rows / call', 'mean ms in PostgreSQL'],
      rows,
    );
  });
  return tables.length ? `<section><h2>What each variant asks of PostgreSQL</h2>${tables.join('')}</section>` : '';
}

function bytesTable(record: BenchRecord): string {
  const pg = record.bytesPerSession.postgres;
  const redis = record.bytesPerSession.redis;
  const rows: string[] = [];
  if (pg) {
    rows.push(
      `<tr><td>PostgreSQL: ${fmt(pg.copies, 0)} copies of the median stored session (${pg.sessionJsonBytes} bytes of JSON), table + indexes after VACUUM</td>${num(pg.fill, 0)}</tr>`,
    );
    rows.push(
      `<tr><td>PostgreSQL: this project's session table as the run left it (${fmt(pg.rowsFound, 0)} rows, with the dead row versions of the run's writes)</td>${num(pg.asFound, 0)}</tr>`,
    );
  }
  if (redis) {
    rows.push(`<tr><td>Redis: MEMORY USAGE of ${redis.sampled} sessions connect-redis stored</td>${num(redis.memoryUsage, 0)}</tr>`);
    rows.push(
      `<tr><td>Redis: used_memory growth per key for ${fmt(redis.copies, 0)} copies of the median session</td>${num(redis.usedMemoryPerSession, 0)}</tr>`,
    );
  }
  return rows.length
    ? `<section><h2>Bytes per stored session</h2><table><thead><tr><th>measure</th><th>bytes per session</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`
    : '';
}

function profilesSection(record: BenchRecord): string {
  const entries = VARIANTS.flatMap((v) => (record.profiles?.[v.id] ? [[v, record.profiles[v.id]!] as const] : []));
  if (entries.length === 0) return '';
  const pct = (share: number) => `<td class="n">${(share * 100).toFixed(1)} %</td>`;
  const blocks = entries.map(
    ([v, p]) => `<div><h3>${h(v.label)} <span class="meta">${fmt(p.busyMs / 1000, 1)} s busy, all replicas</span></h3>
${table(
  'Self time by package',
  ['package or file', 'share'],
  p.byPackage.map((x) => `<tr><td>${h(x.name)}</td>${pct(x.share)}</tr>`),
)}
${table(
  'Top functions by self time',
  ['function', 'share'],
  p.topFunctions.slice(0, 12).map((x) => `<tr><td><code>${h(x.name)}</code></td>${pct(x.share)}</tr>`),
)}</div>`,
  );
  return `<section><h2>Where the replicas' CPU goes (V8 CPU profiles, idle excluded)</h2><div class="charts2">${blocks.join('')}</div></section>`;
}

function roundsTable(record: BenchRecord): string {
  const rows = record.runs.map(
    (r) =>
      `<tr><td class="n">${r.round}</td><td>${h(r.run)}</td><td class="n">${Math.round(r.othersCpuShare * 100)} %</td>${num(r.requestsPerSecond, 0)}${num(r.latencyMs.p50)}${num(r.latencyMs.p99)}${num(r.readP99)}${num(r.writeP99)}${num(r.errors, 0)}${num(r.requests, 0)}${num(r.writes, 0)}${num(r.writesSkipped, 0)}${num(r.pgStatements, 0)}${num(r.redisCommands, 0)}</tr>`,
  );
  return `<section><h2>Every round as measured</h2><table><thead><tr><th>round</th><th>run</th><th>other processes' CPU</th><th>req/s</th><th>p50 ms</th><th>p99 ms</th><th>read p99</th><th>write p99</th><th>errors</th><th>requests</th><th>cart writes</th><th>writes skipped (full cart)</th><th>PG statements</th><th>Redis commands</th></tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

/** How much CPU other work on the machine took during the measured runs: the figures are only as good as this is low. */
export function othersLine(record: BenchRecord): string {
  const shares = record.runs.map((r) => r.othersCpuShare).sort((a, b) => a - b);
  if (shares.length === 0) return '';
  const pct = (n: number) => `${Math.round(n * 100)} %`;
  return `Processes outside the bench used ${pct(shares[Math.floor(shares.length / 2)]!)} of the machine's CPU during a median run (at most ${pct(shares.at(-1)!)}).`;
}

export function renderBenchHtml(record: BenchRecord, summary: BenchSummary): string {
  const m = record.machine;
  const o = record.options;
  const targets = summary.targets
    .map(
      (t) =>
        `<div class="target ${t.met ? 'met' : 'missed'}"><div class="s">${t.met ? 'met' : 'not met'}</div><div class="v">${h(t.value)}</div><div class="n">${h(t.name)}: goal ${h(t.goal)}</div></div>`,
    )
    .join('');
  const versions = Object.entries(record.versions)
    .map(([k, v]) => `${h(k)} ${h(v)}`)
    .join(', ');
  const variants = VARIANTS.map((v) => `<li><b>${h(v.label)}</b>: ${h(v.detail)}</li>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Session store benchmark ${h(record.startedAt)}</title><style>${CSS}</style></head>
<body><main>
<h1>Session stores side by side: MemoryStore, connect-pg-simple, this project, connect-redis</h1>
<p class="meta">${h(record.startedAt)} · <code>${h(record.command)}</code><br>
Machine: ${m.cpus} × ${h(m.cpuModel)}, ${m.memoryGB} GB, Node ${h(m.node)}; 1-minute load average ${m.loadBefore} before the bench, ${m.loadAfter ?? '?'} at the end
(load generator, nginx, replicas, PostgreSQL and Redis share these cores). ${h(othersLine(record))}<br>
Traffic: ${o.connections} keep-alive connections, ${fmt(o.sessions, 0)} logged-in sessions per variant, per session visit 9 × <code>GET /api/me</code> then 1 × <code>POST /api/cart</code>;
${o.rounds} interleaved rounds of ${o.duration} s per run after ${o.warmup} s of warm-up per fleet and ${o.runWarmup} s unrecorded before each run; PASSWORD_SCRYPT_COST=${o.scryptCost}, LOG_LEVEL=warn, NODE_ENV=production.<br>
Versions: ${versions}</p>
<section><h2>Targets for this project's configuration</h2><div class="targets">${targets || '<p>not computed (a run is missing)</p>'}</div></section>
${charts(summary)}
${runsTables(summary)}
${statementsTables(record)}
${bytesTable(record)}
${profilesSection(record)}
<section><h2>Variants</h2><ul class="notes">${variants}<li><b>pgbench -S</b>: ceiling of the same PostgreSQL: select-only, extended protocol, as many clients as the project's pools may open.</li></ul>
${record.notes.length ? `<ul class="notes">${record.notes.map((n) => `<li>${h(n)}</li>`).join('')}</ul>` : ''}</section>
${roundsTable(record)}
</main></body></html>
`;
}
