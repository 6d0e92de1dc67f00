/**
 * The bench report: results/bench-<timestamp>.json (the record and its summary), .html as one self-contained page
 * (../report/page.ts: targets, charts side by side, then the tables) and the figures as text for the terminal.
 */
import { barChart, renderChart, type Bar } from '../report/chart.js';
import { card, escapeHtml as h, fmt, notes, num, page, table } from '../report/page.js';
import type { BenchRecord, BenchSummary, RunSummary } from './summary.js';
import { databaseOf, VARIANTS } from './variants.js';
import { median } from '../stats.js';
import { writeJsonAndHtml } from '../report/write.js';

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

const times = (n: number | undefined) => (n === undefined ? '' : `${fmt(n)}×`);
const isCeiling = (r: RunSummary) => r.run === 'pgbench' || r.run === 'nginx';

/** After a bar's figure: ` · 0.9× MemoryStore · 1.1× redis on as many replicas` (p99: against MemoryStore only). */
function ratios(r: RunSummary, p99 = false): string {
  if (r.run === 'pgbench') return '';
  const parts = [
    r.run !== 'memory' && `${times(p99 ? r.p99VsMemory : r.vsMemory)} MemoryStore`,
    !p99 && !r.run.startsWith('redis') && r.vsRedis !== undefined && `${times(r.vsRedis)} redis on as many replicas`,
  ];
  const text = parts.filter(Boolean).join(' · ');
  return text ? ` · ${text}` : '';
}

function charts(summary: BenchSummary): string {
  const contenders = summary.runs.filter((r) => CONTENDERS.includes(r.run));
  const ceilings = summary.runs.filter(isCeiling);
  // One bar a run, in the run's colour.
  const bar = (r: RunSummary, value: number, note: string, label = r.label): Bar => ({
    label,
    segments: [{ name: 'median', value, color: COLORS[r.run]! }],
    note,
    muted: isCeiling(r),
  });
  const throughput = contenders.map((r) => bar(r, r.requestsPerSecond, `${fmt(r.requestsPerSecond, 0)}${ratios(r)}`));
  const p99 = contenders.map((r) => bar(r, r.p99, `${fmt(r.p99)} ms (p50 ${fmt(r.p50)})${ratios(r, true)}`));
  const ceiling = ceilings.map((r) =>
    bar(
      r,
      r.requestsPerSecond,
      `${fmt(r.requestsPerSecond, 0)}, p99 ${fmt(r.p99)} ms`,
      r.run === 'pgbench' ? 'pgbench -S (transactions/s)' : `${r.label} (req/s)`,
    ),
  );
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
    value === undefined ? [] : [{ name, points: [1, 3].map((x): [number, number] => [x, value]), color }];
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
  const title = 'This project: throughput on 1, 2 and 3 replicas (same nginx, same PostgreSQL)';
  const scaling = scalingChart(title, 'req/s', 'requestsPerSecond');
  const scalingP99 = scalingChart('This project: p99 latency on 1, 2 and 3 replicas', 'p99 ms', 'p99');
  return `<section><h2>Side by side</h2>
${barChart('Throughput, median of the rounds', 'requests per second', throughput)}
${barChart('p99 latency, median of the rounds', 'milliseconds', p99)}
${barChart('CPU per 1,000 requests, by process', 'CPU seconds, all cores', cpu)}
<div class="charts">${scaling}${scalingP99}</div>
${ceiling.length ? barChart('Ceilings of this machine', 'per second', ceiling) : ''}</section>`;
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
<li>CPU: utime + stime from /proc of the replicas, PostgreSQL (postmaster and backends), redis-server, nginx (master and worker) and the bench process running the load engine, per 1,000 answered requests.</li>
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
  return rows.length ? `<section><h2>Bytes per stored session</h2>${table('', ['measure', 'bytes per session'], rows)}</section>` : '';
}

function profilesSection(record: BenchRecord): string {
  const entries = VARIANTS.flatMap((v) => (record.profiles?.[v.id] ? [[v, record.profiles[v.id]!] as const] : []));
  if (entries.length === 0) return '';
  const pct = (share: number) => `<td class="n">${(share * 100).toFixed(1)} %</td>`;
  const blocks = entries.map(([v, p]) => {
    const byPackage = p.byPackage.map((x) => `<tr><td>${h(x.name)}</td>${pct(x.share)}</tr>`);
    const functions = p.topFunctions.slice(0, 12).map((x) => `<tr><td><code>${h(x.name)}</code></td>${pct(x.share)}</tr>`);
    return `<div><h3>${h(v.label)} <span class="meta">${fmt(p.busyMs / 1000, 1)} s busy, all replicas</span></h3>
${table('Self time by package', ['package or file', 'share'], byPackage)}
${table('Top functions by self time', ['function', 'share'], functions)}</div>`;
  });
  return `<section><h2>Where the replicas' CPU goes (V8 CPU profiles, idle excluded)</h2><div class="charts">${blocks.join('')}</div></section>`;
}

function roundsTable(record: BenchRecord): string {
  const rows = record.runs.map(
    (r) =>
      `<tr><td class="n">${r.round}</td><td>${h(r.run)}</td><td class="n">${Math.round(r.othersCpuShare * 100)} %</td>${num(r.requestsPerSecond, 0)}${num(r.latencyMs.p50)}${num(r.latencyMs.p99)}${num(r.readP99)}${num(r.writeP99)}${num(r.errors, 0)}${num(r.requests, 0)}${num(r.writes, 0)}${num(r.writesSkipped, 0)}${num(r.pgStatements, 0)}${num(r.redisCommands, 0)}</tr>`,
  );
  const head = ['round', 'run', "other processes' CPU", 'req/s', 'p50 ms', 'p99 ms', 'read p99', 'write p99', 'errors', 'requests'];
  head.push('cart writes', 'writes skipped (full cart)', 'PG statements', 'Redis commands');
  return `<section><h2>Every round as measured</h2>${table('', head, rows)}</section>`;
}

/** How much CPU other work on the machine took during the measured runs: the figures are only as good as this is low. */
function othersLine(record: BenchRecord): string {
  const shares = record.runs.map((r) => r.othersCpuShare).sort((a, b) => a - b);
  if (shares.length === 0) return '';
  const pct = (n: number) => `${Math.round(n * 100)} %`;
  return `Processes outside the bench used ${pct(median(shares))} of the machine's CPU during a median run (at most ${pct(shares.at(-1)!)}).`;
}

function renderBenchHtml(record: BenchRecord, summary: BenchSummary): string {
  const m = record.machine;
  const o = record.options;
  const targets = summary.targets.map((t) => card(h(t.value), t.name, t.goal, t.met)).join('');
  const versions = Object.entries(record.versions)
    .map(([k, v]) => `${h(k)} ${h(v)}`)
    .join(', ');
  const variants = VARIANTS.map((v) => `<b>${h(v.label)}</b>: ${h(v.detail)}`);
  const pgbench = `<b>pgbench -S</b>: ceiling of the same PostgreSQL: select-only, extended protocol, as many clients as the project's pools may open.`;
  return page(
    `Session store benchmark ${record.startedAt}`,
    `<h1>Session stores side by side: MemoryStore, connect-pg-simple, this project, connect-redis</h1>
<p class="meta">${h(record.startedAt)} · <code>${h(record.command)}</code><br>
Machine: ${m.cpus} × ${h(m.cpuModel)}, ${m.memoryGB} GB, Node ${h(m.node)}; 1-minute load average ${m.loadBefore} before the bench, ${m.loadAfter ?? '?'} at the end
(load generator, nginx, replicas, PostgreSQL and Redis share these cores). ${h(othersLine(record))}<br>
Traffic: ${o.connections} keep-alive connections, ${fmt(o.sessions, 0)} logged-in sessions per variant, per session visit 9 × <code>GET /api/me</code> then 1 × <code>POST /api/cart</code>;
${o.rounds} interleaved rounds of ${o.duration} s per run after ${o.warmup} s of warm-up per fleet and ${o.runWarmup} s unrecorded before each run; PASSWORD_SCRYPT_COST=${o.scryptCost}, LOG_LEVEL=warn, NODE_ENV=production.<br>
Versions: ${versions}</p>
<section><h2>Targets for this project's configuration</h2><div class="cards">${targets || '<p>not computed (a run is missing)</p>'}</div></section>
${charts(summary)}
${runsTables(summary)}
${statementsTables(record)}
${bytesTable(record)}
${profilesSection(record)}
<section><h2>Variants</h2>${notes([...variants, pgbench])}${notes(record.notes.map(h))}</section>
${roundsTable(record)}`,
  );
}

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

/** Writes <dir>/<name>.json (the record and its summary) and .html; returns their paths and the figures as text. */
export function writeBenchReport(record: BenchRecord, summary: BenchSummary, dir: string, name: string) {
  const { json, html } = writeJsonAndHtml(dir, name, { ...record, summary }, () => renderBenchHtml(record, summary));
  return { json, html, text: textSummary(record, summary) };
}
