/**
 * A grouped bar chart as a standalone SVG document, generated from benchmark results (issue 9: "at
 * least one chart, as an SVG generated from the JSON"). Pure and deterministic: the same data gives
 * the same bytes, so a regenerated chart diffs cleanly in git.
 *
 * Each category (e.g. "N = 4") holds one bar per series (e.g. "relay", "bare unary call"); a bar is
 * the median, and a whisker spans min–max of the repeated runs. A missing value (NaN) draws no bar and
 * says "n/a". The y axis starts at 0 and ends at a "nice" round value above the largest max.
 */
import type { Summary } from "./stats.js";

export interface ChartSeries {
  readonly name: string;
  /** CSS colour of the bars. */
  readonly color: string;
  /** One summary per category, in category order. */
  readonly values: readonly Summary[];
}

export interface BarChartSpec {
  readonly title: string;
  /** A second line under the title (conditions, machine, load). */
  readonly subtitle?: string;
  readonly yLabel: string;
  readonly categories: readonly string[];
  readonly series: readonly ChartSeries[];
  /** Text printed above each bar; default the median with up to 3 significant digits. */
  readonly valueLabel?: (value: number) => string;
  readonly width?: number;
  readonly height?: number;
}

/** Escapes text for SVG element content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string);
}

/**
 * Round axis ticks from 0 up to at least `max`: steps of 1, 2, 2.5 or 5 × 10^k, about `target` of
 * them. For max ≤ 0 (or not finite) the axis is 0..1.
 */
export function niceTicks(max: number, target = 5): number[] {
  if (!Number.isFinite(max) || max <= 0) return [0, 0.2, 0.4, 0.6, 0.8, 1];
  const rough = max / target;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? 10 * magnitude) as number;
  const ticks: number[] = [];
  const count = Math.ceil(max / step - 1e-9);
  for (let i = 0; i <= count; i++) ticks.push(Number((i * step).toPrecision(12)));
  return ticks;
}

/** A compact number for labels: 3 significant digits (no trailing zeros), thousands separated by a thin space. */
export function compactNumber(x: number): string {
  if (!Number.isFinite(x)) return "n/a";
  const abs = Math.abs(x);
  if (abs < 1000) return String(Number(x.toPrecision(3)));
  return Math.round(x)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, "\u2009");
}

const fmt = (x: number): string => (Math.round(x * 10) / 10).toString();

export function barChartSvg(spec: BarChartSpec): string {
  const width = spec.width ?? 720;
  const height = spec.height ?? 400;
  for (const s of spec.series) {
    if (s.values.length !== spec.categories.length) {
      throw new RangeError(`series "${s.name}" has ${s.values.length} values for ${spec.categories.length} categories`);
    }
  }
  const label = spec.valueLabel ?? compactNumber;
  // Legend: swatch + name per series, wrapped into rows; then the reading key.
  const legendItems = [...spec.series.map((s) => ({ text: s.name, color: s.color as string | undefined })), { text: "bar: median · whisker: min–max", color: undefined }];
  const legendRows: Array<Array<{ text: string; color: string | undefined; x: number }>> = [[]];
  {
    let x = 72;
    for (const item of legendItems) {
      const w = (item.color === undefined ? 0 : 18) + item.text.length * 6.5 + 24;
      if (x + w > width - 24 && (legendRows[legendRows.length - 1] as unknown[]).length > 0) {
        legendRows.push([]);
        x = 72;
      }
      (legendRows[legendRows.length - 1] as Array<{ text: string; color: string | undefined; x: number }>).push({ ...item, x });
      x += w;
    }
  }
  const margin = { top: spec.subtitle === undefined ? 56 : 72, right: 24, bottom: 44 + legendRows.length * 18, left: 72 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const top = Math.max(0, ...spec.series.flatMap((s) => s.values.flatMap((v) => [v.max, v.median].filter(Number.isFinite))));
  const ticks = niceTicks(top);
  const yMax = ticks[ticks.length - 1] as number;
  const y = (v: number): number => margin.top + plotH - (v / yMax) * plotH;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(spec.title)}</title>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(spec.title)}</text>`,
  );
  if (spec.subtitle !== undefined) {
    out.push(`<text x="${width / 2}" y="44" text-anchor="middle" fill="#555555">${escapeXml(spec.subtitle)}</text>`);
  }
  // Grid and y axis.
  for (const t of ticks) {
    const ty = fmt(y(t));
    out.push(
      `<line x1="${margin.left}" y1="${ty}" x2="${margin.left + plotW}" y2="${ty}" stroke="#e5e5e5"/>`,
      `<text x="${margin.left - 8}" y="${ty}" text-anchor="end" dominant-baseline="middle">${escapeXml(compactNumber(t))}</text>`,
    );
  }
  out.push(
    `<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${margin.top + plotH}" stroke="#333333"/>`,
    `<line x1="${margin.left}" y1="${margin.top + plotH}" x2="${margin.left + plotW}" y2="${margin.top + plotH}" stroke="#333333"/>`,
    `<text x="18" y="${fmt(margin.top + plotH / 2)}" text-anchor="middle" transform="rotate(-90 18 ${fmt(margin.top + plotH / 2)})">${escapeXml(spec.yLabel)}</text>`,
  );
  // Bars.
  const groupW = plotW / Math.max(1, spec.categories.length);
  const barW = (groupW * 0.7) / Math.max(1, spec.series.length);
  spec.categories.forEach((category, ci) => {
    const gx = margin.left + ci * groupW + groupW * 0.15;
    spec.series.forEach((s, si) => {
      const v = s.values[ci] as Summary;
      const x = gx + si * barW;
      const cx = fmt(x + barW / 2);
      if (!Number.isFinite(v.median)) {
        out.push(`<text x="${cx}" y="${fmt(margin.top + plotH - 6)}" text-anchor="middle" fill="#999999">n/a</text>`);
        return;
      }
      const by = y(v.median);
      out.push(
        `<rect x="${fmt(x + 1)}" y="${fmt(by)}" width="${fmt(barW - 2)}" height="${fmt(margin.top + plotH - by)}" fill="${escapeXml(s.color)}">` +
          `<title>${escapeXml(`${s.name}, ${category}: median ${label(v.median)} (min ${label(v.min)}, max ${label(v.max)}, ${v.n} runs)`)}</title></rect>`,
      );
      if (Number.isFinite(v.min) && Number.isFinite(v.max) && v.max > v.min) {
        const x1 = fmt(x + barW / 2 - barW / 6);
        const x2 = fmt(x + barW / 2 + barW / 6);
        out.push(
          `<line class="whisker" x1="${cx}" y1="${fmt(y(v.min))}" x2="${cx}" y2="${fmt(y(v.max))}" stroke="#222222"/>`,
          `<line x1="${x1}" y1="${fmt(y(v.min))}" x2="${x2}" y2="${fmt(y(v.min))}" stroke="#222222"/>`,
          `<line x1="${x1}" y1="${fmt(y(v.max))}" x2="${x2}" y2="${fmt(y(v.max))}" stroke="#222222"/>`,
        );
      }
      const labelY = Number.isFinite(v.max) ? Math.min(by, y(v.max)) : by;
      out.push(`<text x="${cx}" y="${fmt(labelY - 4)}" text-anchor="middle" font-size="10">${escapeXml(label(v.median))}</text>`);
    });
    out.push(`<text x="${fmt(margin.left + ci * groupW + groupW / 2)}" y="${fmt(margin.top + plotH + 18)}" text-anchor="middle">${escapeXml(category)}</text>`);
  });
  // Legend.
  legendRows.forEach((items, ri) => {
    const ly = height - 12 - (legendRows.length - 1 - ri) * 18;
    for (const item of items) {
      if (item.color === undefined) {
        out.push(`<text x="${fmt(item.x)}" y="${ly}" fill="#555555">${escapeXml(item.text)}</text>`);
      } else {
        out.push(
          `<rect x="${fmt(item.x)}" y="${ly - 10}" width="12" height="12" fill="${escapeXml(item.color)}"/>`,
          `<text x="${fmt(item.x + 18)}" y="${ly}">${escapeXml(item.text)}</text>`,
        );
      }
    }
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
