import { describe, expect, it } from "vitest";
import { barChartSvg, compactNumber, escapeXml, niceTicks, type BarChartSpec } from "../../../bench/lib/svg-chart.js";

const s = (median: number, min = median, max = median, n = 3) => ({ median, min, max, n });

const spec: BarChartSpec = {
  title: "Relay throughput vs N",
  subtitle: "load average 1.2",
  yLabel: "requests/s",
  categories: ["N = 4", "N = 7"],
  series: [
    { name: "bare call", color: "#999999", values: [s(1000, 900, 1100), s(1000, 950, 1050)] },
    { name: "relay", color: "#1f77b4", values: [s(400, 380, 420), s(200)] },
  ],
};

/** The rects that are bars (they carry a <title> tooltip), with their geometry. */
function bars(svg: string): Array<{ y: number; height: number; title: string }> {
  return [...svg.matchAll(/<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)" fill="[^"]+"><title>([^<]*)<\/title><\/rect>/g)].map((m) => ({
    y: Number(m[1]),
    height: Number(m[2]),
    title: m[3] as string,
  }));
}

describe("niceTicks", () => {
  it("ends at a round value at or above the maximum, starting from 0", () => {
    expect(niceTicks(1100)).toEqual([0, 250, 500, 750, 1000, 1250]);
    expect(niceTicks(0.37)).toEqual([0, 0.1, 0.2, 0.3, 0.4]);
    expect(niceTicks(100)).toEqual([0, 20, 40, 60, 80, 100]);
  });

  it("falls back to 0..1 when there is nothing to scale", () => {
    expect(niceTicks(0)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(Number.NaN)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });
});

describe("escapeXml and compactNumber", () => {
  it("escapes the five XML special characters", () => {
    expect(escapeXml(`a<b>&"c'`)).toBe("a&lt;b&gt;&amp;&quot;c&#39;");
  });

  it("prints 3 significant digits without trailing zeros, thin-space thousands, and n/a for a missing value", () => {
    expect(compactNumber(12345.6)).toBe("12\u2009346");
    expect(compactNumber(12.345)).toBe("12.3");
    expect(compactNumber(30)).toBe("30");
    expect(compactNumber(0.01234)).toBe("0.0123");
    expect(compactNumber(Number.NaN)).toBe("n/a");
  });
});

describe("barChartSvg", () => {
  const svg = barChartSvg(spec);

  it("is one standalone SVG document with its title", () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg).toContain("<title>Relay throughput vs N</title>");
    expect(svg).toContain("load average 1.2");
  });

  it("draws one bar per series and category, with heights proportional to the medians", () => {
    const b = bars(svg);
    expect(b).toHaveLength(4);
    const [bare4, relay4, bare7, relay7] = [b[0]!, b[1]!, b[2]!, b[3]!];
    expect(bare4.height / relay4.height).toBeCloseTo(1000 / 400, 1);
    expect(bare7.height / relay7.height).toBeCloseTo(1000 / 200, 1);
    // All bars stand on the same baseline.
    expect(new Set(b.map((x) => Math.round(x.y + x.height))).size).toBe(1);
  });

  it("names the series, category, median, min, max and run count in each bar's tooltip", () => {
    expect(bars(svg)[1]!.title).toBe("relay, N = 4: median 400 (min 380, max 420, 3 runs)");
  });

  it("draws a min–max whisker only where the runs differ", () => {
    expect(svg.match(/class="whisker"/g)).toHaveLength(3); // relay at N = 7 has min = max
  });

  it("scales the axis to the largest max, not just the largest median", () => {
    expect(svg).toContain(">1\u2009250<"); // max 1100 → axis to 1 250
  });

  it("says n/a instead of drawing a bar for a missing figure", () => {
    const missing = barChartSvg({ ...spec, series: [{ name: "relay", color: "#000", values: [s(Number.NaN), s(10)] }] });
    expect(bars(missing)).toHaveLength(1);
    expect(missing).toContain(">n/a<");
  });

  it("escapes text that comes from the data", () => {
    const tricky = barChartSvg({ ...spec, categories: ["N < 5 & more", "x"] });
    expect(tricky).toContain("N &lt; 5 &amp; more");
    expect(tricky).not.toContain("N < 5");
  });

  it("is deterministic: the same data gives the same bytes", () => {
    expect(barChartSvg(spec)).toBe(svg);
  });

  it("wraps a long legend into rows that stay inside the picture", () => {
    const long = barChartSvg({
      ...spec,
      series: Array.from({ length: 4 }, (_, i) => ({ name: `a rather long series name number ${i} (one process per server)`, color: "#000", values: [s(1), s(2)] })),
    });
    const legendXs = [...long.matchAll(/<rect x="([^"]+)" y="[^"]+" width="12" height="12"/g)].map((m) => Number(m[1]));
    expect(legendXs).toHaveLength(4);
    const legendYs = [...long.matchAll(/<rect x="[^"]+" y="([^"]+)" width="12" height="12"/g)].map((m) => m[1]);
    expect(new Set(legendYs).size).toBeGreaterThan(1); // more than one row
    expect(Math.max(...legendXs) + 18 + 50 * 6.5).toBeLessThanOrEqual(720);
  });

  it("refuses a series whose values do not match the categories", () => {
    expect(() => barChartSvg({ ...spec, series: [{ name: "x", color: "#000", values: [s(1)] }] })).toThrow(RangeError);
  });
});
