/** Horizontal bar charts as inline SVG (one bar per variant, optionally stacked), for the bench report. */
import { escapeHtml as h } from '../report/escape.js';
import { ticks } from '../report/svg-chart.js';

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

const W = 900;
const ROW = 30;
const LEFT = 240;
// Each bar's note needs room to its right (13 px text: about 7 px per character), or the SVG clips it.
const NOTE_CHAR_WIDTH = 7;
const TOP = 8;
const AXIS = 26;

export function barChart(title: string, unit: string, bars: Bar[]): string {
  const total = (b: Bar) => b.segments.reduce((s, x) => s + x.value, 0);
  const axis = ticks(0, Math.max(...bars.map(total), 1e-9));
  const max = axis.at(-1)!;
  // The widest plot that still leaves each bar's note room to its right.
  const plot = Math.min(
    W - LEFT - 20,
    ...bars.map((b) => (W - LEFT - 12 - b.note.length * NOTE_CHAR_WIDTH) / Math.max(total(b) / max, 1e-9)),
  );
  const x = (v: number) => LEFT + (v / max) * plot;
  const height = TOP + bars.length * ROW + AXIS;
  const parts: string[] = [];
  for (const t of axis) {
    parts.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${TOP}" y2="${height - AXIS}" class="grid"/>`);
    parts.push(`<text x="${x(t).toFixed(1)}" y="${height - AXIS + 16}" text-anchor="middle">${t >= 10_000 ? `${t / 1000}k` : t}</text>`);
  }
  bars.forEach((bar, i) => {
    const y = TOP + i * ROW;
    parts.push(`<text x="${LEFT - 8}" y="${y + ROW / 2 + 5}" text-anchor="end" class="label">${h(bar.label)}</text>`);
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
  parts.push(`<line x1="${LEFT}" x2="${LEFT}" y1="${TOP}" y2="${height - AXIS}" class="axis-line"/>`);
  const names = [...new Map(bars.flatMap((b) => b.segments).map((s) => [s.name, s.color])).entries()];
  const legend =
    names.length > 1
      ? `<div class="legend">${names.map(([n, c]) => `<span class="key"><i style="background:${c}"></i>${h(n)}</span>`).join(' ')}</div>`
      : '';
  return `<figure class="chart"><figcaption>${h(title)} <span class="unit">(${h(unit)})</span></figcaption><svg viewBox="0 0 ${W} ${height}" role="img" aria-label="${h(title)}">${parts.join('')}</svg>${legend}</figure>`;
}
