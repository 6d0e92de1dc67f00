/**
 * The reports' charts as inline SVG strings (no library, no script, no network): lines and per-second bars over time
 * with event markers (renderChart: the load test, the bench's scaling) and horizontal, optionally stacked bars
 * (barChart: the bench). No text runs past the SVG's edge: labels near an edge turn inwards, notes get room.
 */
import type { Chart } from '../scenarios/types.js';
import { escapeHtml as h } from './page.js';

/** About `count` round tick values (1, 2 or 5 times a power of ten) from 0 or `min` up to at least `max`. */
function ticks(min: number, max: number, count = 5): number[] {
  const span = max - min || 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toFixed(10)));
  if (out.at(-1)! < max) out.push(Number((out.at(-1)! + step).toFixed(10)));
  return out;
}

const tickLabel = (v: number) => (Math.abs(v) >= 10_000 ? `${v / 1000}k` : String(Number(v.toFixed(2))));

/** The frame every chart shares: caption (with its unit), the SVG, and a legend when there is one. */
function figure(title: string, unit: string | undefined, size: number[], kind: string, parts: string[], keys: Array<[string, string]>) {
  const u = unit ? ` <span class="unit">(${h(unit)})</span>` : '';
  const legend = keys.length
    ? `<div class="legend">${keys.map(([name, color]) => `<span class="key"><i style="background:${color}"></i>${h(name)}</span>`).join(' ')}</div>`
    : '';
  return `<figure class="chart"><figcaption>${h(title)}${u}</figcaption><svg class="${kind}" viewBox="0 0 ${size.join(' ')}" role="img" aria-label="${h(title)}">${parts.join('')}</svg>${legend}</figure>`;
}

const W = 600;
const H = 260;
const M = { left: 58, right: 16, top: 34, bottom: 42 };
const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;

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

/** Lines, and bars one x unit wide (counts per second), over a numeric x axis, with vertical event markers. */
export function renderChart(chart: Chart): string {
  const all = chart.series.flatMap((s) => s.points);
  if (all.length === 0) return `<p class="empty">${h(chart.title)}: no data</p>`;
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
    parts.push(`<text x="${M.left - 6}" y="${py(t) + 4}" text-anchor="end">${tickLabel(t)}</text>`);
  }
  for (const t of xTicks) parts.push(`<text x="${px(t)}" y="${H - M.bottom + 16}" text-anchor="middle">${tickLabel(t)}</text>`);
  parts.push(`<text x="${M.left + PLOT_W / 2}" y="${H - 6}" text-anchor="middle" class="axis">${h(chart.x)}</text>`);
  const mid = M.top + PLOT_H / 2;
  parts.push(`<text x="14" y="${mid}" text-anchor="middle" class="axis" transform="rotate(-90 14 ${mid})">${h(chart.y)}</text>`);

  // Bars are one x unit wide (a second), lines are drawn over them.
  const barWidth = Math.max(1, (PLOT_W / (x1 - x0)) * 0.8);
  for (const s of chart.series.filter((s) => s.bars)) {
    for (const [x, y] of s.points) {
      if (y <= 0) continue;
      const height = Math.max(3, py(0) - py(y)); // a single failure stays visible
      const left = px(x) + 0.1 * barWidth;
      parts.push(
        `<rect x="${left.toFixed(1)}" y="${(py(0) - height).toFixed(1)}" width="${barWidth.toFixed(1)}" height="${height.toFixed(1)}" fill="${s.color ?? '#718096'}"><title>${h(s.name)} at ${x}: ${y}</title></rect>`,
      );
      // Counts that matter at a glance (failures) are written above their bars.
      if (s.labelled)
        parts.push(
          `<text x="${(left + barWidth / 2).toFixed(1)}" y="${(py(0) - height - 3).toFixed(1)}" text-anchor="middle" class="bar-label" fill="${s.color}">${tickLabel(y)}</text>`,
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
    parts.push(`<text x="${x}" y="${row}" text-anchor="${anchor}" class="marker-label">${h(m.label)}</text>`);
  });
  parts.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py(0)}" y2="${py(0)}" class="axis-line"/>`);
  const keys = chart.series.map((s): [string, string] => [s.name, s.color ?? '#2d3748']);
  return figure(chart.title, undefined, [W, H], 'lines', parts, keys);
}

export interface Segment {
  name: string;
  value: number;
  color: string;
}

export interface Bar {
  label: string;
  segments: Segment[];
  /** Written after the bar: the value and its ratios. */
  note: string;
  /** Drawn lighter: a ceiling, not a contender. */
  muted?: boolean;
}

const BARS_W = 900;
const ROW = 30;
const TOP = 8;
const AXIS = 26;
// SVG text cannot be measured without a browser: widths are estimated from the character count (13 px notes about
// 7 px a character, 14 px bold labels about 8.5 px) and the labels' column and the notes' room sized from them.
const NOTE_CHAR_WIDTH = 7;
const LABEL_CHAR_WIDTH = 8.5;

/** One horizontal bar per row (segments stacked left to right), its label on the left and its note after it. */
export function barChart(title: string, unit: string, bars: Bar[]): string {
  const total = (b: Bar) => b.segments.reduce((s, x) => s + x.value, 0);
  const axis = ticks(0, Math.max(...bars.map(total), 1e-9));
  const max = axis.at(-1)!;
  const left = Math.max(0, ...bars.map((b) => b.label.length * LABEL_CHAR_WIDTH)) + 16;
  // The widest plot that still leaves each bar's note room to its right.
  const plot = Math.min(
    BARS_W - left - 20,
    ...bars.map((b) => (BARS_W - left - 12 - b.note.length * NOTE_CHAR_WIDTH) / Math.max(total(b) / max, 1e-9)),
  );
  const x = (v: number) => left + (v / max) * plot;
  const height = TOP + bars.length * ROW + AXIS;
  const parts: string[] = [];
  for (const t of axis) {
    parts.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${TOP}" y2="${height - AXIS}" class="grid"/>`);
    parts.push(`<text x="${x(t).toFixed(1)}" y="${height - AXIS + 16}" text-anchor="middle">${tickLabel(t)}</text>`);
  }
  bars.forEach((bar, i) => {
    const y = TOP + i * ROW;
    parts.push(`<text x="${left - 8}" y="${y + ROW / 2 + 5}" text-anchor="end" class="label">${h(bar.label)}</text>`);
    let at = 0;
    for (const s of bar.segments) {
      const width = Math.max(0, x(at + s.value) - x(at));
      parts.push(
        `<rect x="${x(at).toFixed(1)}" y="${y + 5}" width="${width.toFixed(1)}" height="${ROW - 10}" fill="${s.color}"${bar.muted ? ' fill-opacity="0.45"' : ''}><title>${h(`${bar.label}: ${s.name} ${s.value}`)}</title></rect>`,
      );
      at += s.value;
    }
    parts.push(`<text x="${(x(at) + 6).toFixed(1)}" y="${y + ROW / 2 + 5}" class="note">${h(bar.note)}</text>`);
  });
  parts.push(`<line x1="${left}" x2="${left}" y1="${TOP}" y2="${height - AXIS}" class="axis-line"/>`);
  // Stacked segments need a legend; one segment a bar is named by the bar's label.
  const keys = [...new Map(bars.flatMap((b) => b.segments).map((s) => [s.name, s.color])).entries()];
  return figure(title, unit, [BARS_W, height], 'hbars', parts, bars.some((b) => b.segments.length > 1) ? keys : []);
}
