/** Draws a Chart (lines, bars, event markers) as an inline SVG string: no library, no script, no network. */
import type { Chart } from '../scenarios/types.js';
import { escapeHtml } from './escape.js';

const W = 600;
const H = 260;
const M = { left: 58, right: 16, top: 34, bottom: 42 };
const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;

/** About `count` round tick values (1, 2 or 5 times a power of ten) from 0 or `min` up to at least `max`. */
export function ticks(min: number, max: number, count = 5): number[] {
  const span = max - min || 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
  if (out.at(-1)! < max) out.push(Number((out.at(-1)! + step).toFixed(10)));
  return out;
}

const label = (v: number) => (Math.abs(v) >= 10_000 ? `${v / 1000}k` : String(Number(v.toFixed(2))));

/** Markers closer than `gap` become one ("r1 back · r2 out"), so their labels do not overprint. */
function mergeClose(markers: Array<{ x: number; label: string }>, gap: number) {
  const merged: Array<{ x: number; label: string }> = [];
  for (const m of [...markers].sort((a, b) => a.x - b.x)) {
    const last = merged.at(-1);
    if (last && m.x - last.x < gap) {
      if (!last.label.split(' · ').includes(m.label)) last.label += ` · ${m.label}`;
    } else merged.push({ ...m });
  }
  return merged;
}

export function renderChart(chart: Chart): string {
  const all = chart.series.flatMap((s) => s.points);
  if (all.length === 0) return `<p class="empty">${escapeHtml(chart.title)}: no data</p>`;
  const xs = all.map(([x]) => x).concat((chart.markers ?? []).map((m) => m.x));
  const xTicks = ticks(Math.min(0, ...xs), Math.max(...xs, 1));
  const yTicks = ticks(0, Math.max(...all.map(([, y]) => y), 1e-9) * 1.05);
  const [x0, x1] = [xTicks[0]!, xTicks.at(-1)!];
  const y1 = yTicks.at(-1)!;
  const px = (x: number) => M.left + ((x - x0) / (x1 - x0)) * PLOT_W;
  const py = (y: number) => M.top + PLOT_H - (y / y1) * PLOT_H;
  const parts: string[] = [];

  for (const t of yTicks) {
    parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py(t)}" y2="${py(t)}" class="grid"/>`);
    parts.push(`<text x="${M.left - 6}" y="${py(t) + 4}" text-anchor="end">${label(t)}</text>`);
  }
  for (const t of xTicks) parts.push(`<text x="${px(t)}" y="${H - M.bottom + 16}" text-anchor="middle">${label(t)}</text>`);
  parts.push(`<text x="${M.left + PLOT_W / 2}" y="${H - 6}" text-anchor="middle" class="axis">${escapeHtml(chart.x)}</text>`);
  parts.push(
    `<text x="14" y="${M.top + PLOT_H / 2}" text-anchor="middle" class="axis" transform="rotate(-90 14 ${M.top + PLOT_H / 2})">${escapeHtml(chart.y)}</text>`,
  );

  // Bars are one x unit wide (a second), lines are drawn over them.
  const barWidth = Math.max(1, (PLOT_W / (x1 - x0)) * 0.8);
  for (const s of chart.series.filter((s) => s.bars)) {
    for (const [x, y] of s.points) {
      if (y <= 0) continue;
      const h = Math.max(3, py(0) - py(y)); // a single failure stays visible
      const left = px(x) + 0.1 * barWidth;
      parts.push(
        `<rect x="${left.toFixed(1)}" y="${(py(0) - h).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${h.toFixed(1)}" fill="${s.color ?? '#718096'}"><title>${escapeHtml(s.name)} at ${x}: ${y}</title></rect>`,
      );
      // Counts that matter at a glance (failures) are written above their bars.
      if (s.labelled)
        parts.push(
          `<text x="${(left + barWidth / 2).toFixed(1)}" y="${(py(0) - h - 3).toFixed(1)}" text-anchor="middle" class="bar-label" fill="${s.color}">${label(y)}</text>`,
        );
    }
  }
  for (const s of chart.series.filter((s) => !s.bars)) {
    const d = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${d}" fill="none" stroke="${s.color ?? '#2d3748'}" stroke-width="2" stroke-linejoin="round"/>`);
  }
  mergeClose(chart.markers ?? [], (x1 - x0) / 60).forEach((m, i) => {
    const x = px(m.x).toFixed(1);
    const row = M.top - 4 - (i % 2) * 12; // alternate rows so close markers do not overprint
    parts.push(`<line x1="${x}" x2="${x}" y1="${row + 2}" y2="${M.top + PLOT_H}" class="marker"/>`);
    // Labels near an edge are anchored inwards so they are not cut off.
    const at = px(m.x);
    const anchor = at > W - M.right - 80 ? 'end' : at < M.left + 80 ? 'start' : 'middle';
    parts.push(`<text x="${x}" y="${row}" text-anchor="${anchor}" class="marker-label">${escapeHtml(m.label)}</text>`);
  });
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py(0)}" y2="${py(0)}" class="axis-line"/>`);

  const legend = chart.series
    .map((s) => `<span class="key"><i style="background:${s.color ?? '#2d3748'}"></i>${escapeHtml(s.name)}</span>`)
    .join(' ');
  return `<figure class="chart"><figcaption>${escapeHtml(chart.title)}</figcaption><svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(chart.title)}">${parts.join('')}</svg><div class="legend">${legend}</div></figure>`;
}
