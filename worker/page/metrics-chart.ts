// The geometry of the admin view's chart (docs/loop.md): one line per arm and model version, a
// figure of GET /admin/metrics's series over time. Pure (no DOM), so it is tested in Node;
// admin.ts draws it as SVG.

export interface SeriesPoint {
  t: number;
  arm: string;
  model: string;
  lists: number;
  impressions: number;
  clicks: number;
  ctr: number | null;
  conversions: number;
}

export type Figure = "lists" | "impressions" | "clicks" | "ctr" | "conversions";

export interface ChartLine {
  /** "arm · model" */
  label: string;
  /** SVG coordinates, left to right; a bucket where the figure is undefined (CTR of 0 impressions) is left out. */
  points: [number, number][];
}

export interface Chart {
  lines: ChartLine[];
  /** The value at the top of the plot (the bottom is 0). */
  yMax: number;
  /** The first and last bucket start, unix seconds. */
  tMin: number;
  tMax: number;
}

export interface Box {
  width: number;
  height: number;
  /** Room left for the axis labels. */
  left: number;
  bottom: number;
  top: number;
  right: number;
}

export function chartOf(series: readonly SeriesPoint[], figure: Figure, box: Box): Chart {
  const ts = series.map((p) => p.t);
  const tMin = ts.length ? Math.min(...ts) : 0;
  const tMax = ts.length ? Math.max(...ts) : 0;
  const values = series.map((p) => p[figure]).filter((v): v is number => v !== null);
  const top = values.length ? Math.max(...values) : 0;
  const yMax = top > 0 ? top : 1;
  const plotW = box.width - box.left - box.right;
  const plotH = box.height - box.top - box.bottom;
  // one bucket: drawn at the middle
  const x = (t: number) => box.left + (tMax === tMin ? plotW / 2 : ((t - tMin) / (tMax - tMin)) * plotW);
  const y = (v: number) => box.top + plotH - (v / yMax) * plotH;
  const byLine = new Map<string, ChartLine>();
  for (const p of [...series].sort((a, b) => a.t - b.t)) {
    const label = `${p.arm} · ${p.model}`;
    let line = byLine.get(label);
    if (!line) {
      line = { label, points: [] };
      byLine.set(label, line);
    }
    const v = p[figure];
    if (v !== null) line.points.push([round(x(p.t)), round(y(v))]);
  }
  return { lines: [...byLine.values()].sort((a, b) => a.label.localeCompare(b.label)), yMax, tMin, tMax };
}

const round = (v: number) => Math.round(v * 10) / 10;
