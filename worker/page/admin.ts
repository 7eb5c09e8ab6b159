// The admin view of the page (/#admin): GET /admin/metrics for a range, a table per arm and
// model version, and a small SVG chart of one figure over time (metrics-chart.ts). Needs the
// admin token, typed into the view's own password field: the page's sign-in takes user tokens
// only, and the admin token never enters a browser's storage (docs/trust.md), so it lives in
// that field (memory) and goes out only with the metrics request. Plain DOM and SVG: no inline
// script or style, so it runs under the Worker's Content-Security-Policy.
import { type Figure, type SeriesPoint, chartOf } from "./metrics-chart.ts";

export interface MetricsAnswer {
  from: number;
  to: number;
  catalogue: number;
  unattributed: number;
  arms: (Omit<SeriesPoint, "t"> & { conversionRate: number | null; newUserShare: number | null; moviesShown: number; coverage: number | null })[];
  series: SeriesPoint[];
}

/** How the view reads the metrics and reports a failure (the page's API client and its error area). */
export interface AdminDeps {
  metrics(query: { from: string; to: string; bucket: "hour" | "day" }, adminToken: string): Promise<MetricsAnswer>;
  guarded(action: () => Promise<void>): Promise<void>;
}

const SVG = "http://www.w3.org/2000/svg";
const BOX = { width: 640, height: 220, left: 48, bottom: 24, top: 10, right: 10 };
const COLOURS = ["#0a66c2", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0f766e", "#a16207", "#334155"];
const DAY_MS = 86_400_000;

const el = <T extends HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
};

function svg(name: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

const percent = (v: number | null) => (v === null ? "–" : `${(100 * v).toFixed(1)}%`);
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function drawChart(answer: MetricsAnswer, figure: Figure): void {
  const chart = chartOf(answer.series, figure, BOX);
  const root = svg("svg", { viewBox: `0 0 ${BOX.width} ${BOX.height}`, width: "100%", role: "img", "aria-labelledby": "admin-chart-title" });
  root.append(svg("title", { id: "admin-chart-title" }, `${figure} per ${answer.series.length ? "bucket" : "bucket (no data)"}, one line per arm and model`));
  const bottom = BOX.height - BOX.bottom;
  root.append(svg("line", { x1: BOX.left, y1: bottom, x2: BOX.width - BOX.right, y2: bottom, stroke: "#888" }));
  root.append(svg("line", { x1: BOX.left, y1: BOX.top, x2: BOX.left, y2: bottom, stroke: "#888" }));
  const top = figure === "ctr" ? percent(chart.yMax) : String(Number(chart.yMax.toPrecision(3)));
  root.append(svg("text", { x: BOX.left - 4, y: BOX.top + 10, "text-anchor": "end", "font-size": 11 }, top));
  root.append(svg("text", { x: BOX.left - 4, y: bottom, "text-anchor": "end", "font-size": 11 }, "0"));
  if (answer.series.length) {
    root.append(svg("text", { x: BOX.left, y: BOX.height - 6, "font-size": 11 }, new Date(chart.tMin * 1000).toISOString().slice(0, 16).replace("T", " ")));
    root.append(
      svg(
        "text",
        { x: BOX.width - BOX.right, y: BOX.height - 6, "text-anchor": "end", "font-size": 11 },
        new Date(chart.tMax * 1000).toISOString().slice(0, 16).replace("T", " "),
      ),
    );
  }
  const legend = document.createElement("ul");
  legend.className = "legend";
  chart.lines.forEach((line, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const points = line.points.map(([x, y]) => `${x},${y}`).join(" ");
    root.append(svg("polyline", { points, fill: "none", stroke: colour, "stroke-width": 2, "data-line": line.label }));
    for (const [x, y] of line.points) root.append(svg("circle", { cx: x, cy: y, r: 3, fill: colour }));
    const item = document.createElement("li");
    const swatch = svg("svg", { width: 12, height: 12, "aria-hidden": "true" });
    swatch.append(svg("rect", { width: 12, height: 12, fill: colour }));
    item.append(swatch, ` ${line.label}`);
    legend.append(item);
  });
  el("admin-chart").replaceChildren(root, legend);
}

function drawTable(answer: MetricsAnswer): void {
  const rows = answer.arms.map((a) => {
    const tr = document.createElement("tr");
    const cells = [
      a.arm,
      a.model,
      String(a.lists),
      String(a.impressions),
      String(a.clicks),
      percent(a.ctr),
      String(a.conversions),
      percent(a.conversionRate),
      percent(a.coverage),
      percent(a.newUserShare),
    ];
    for (const text of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    return tr;
  });
  el("admin-rows").replaceChildren(...rows);
  el("admin-empty").hidden = rows.length > 0;
  el("admin-note").textContent = `Catalogue: ${answer.catalogue} movies. Events of no recorded list: ${answer.unattributed}.`;
}

export function startAdmin(deps: AdminDeps): void {
  const section = el("admin");
  const form = el<HTMLFormElement>("admin-form");
  const from = el<HTMLInputElement>("admin-from");
  const to = el<HTMLInputElement>("admin-to");
  const token = el<HTMLInputElement>("admin-token");
  from.value ||= isoDay(Date.now() - 7 * DAY_MS);
  to.value ||= isoDay(Date.now() + DAY_MS);
  let last: MetricsAnswer | null = null;
  const figure = () => el<HTMLSelectElement>("admin-figure").value as Figure;
  const load = () =>
    deps.guarded(async () => {
      const bucket = el<HTMLSelectElement>("admin-bucket").value === "hour" ? "hour" : "day";
      last = await deps.metrics({ from: from.value, to: to.value, bucket }, token.value.trim());
      drawTable(last);
      drawChart(last, figure());
    });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void load();
  });
  el("admin-figure").addEventListener("change", () => {
    if (last) drawChart(last, figure());
  });
  const route = () => {
    section.hidden = location.hash !== "#admin";
    if (section.hidden) return;
    // nothing to send before the admin token is typed: ask for it in the view itself
    if (!token.value.trim()) token.focus();
    else if (last === null) void load();
  };
  window.addEventListener("hashchange", route);
  route();
}
