// Charts of the comparison as static SVG, drawn with Vega-Lite in Node, so report.html needs
// no script and opens offline.
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import type { Comparison } from "./compare.ts";

async function svg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  return view.toSVG();
}

const WIDTH = 560;

export async function comparisonCharts(c: Comparison): Promise<{ title: string; svg: string }[]> {
  const rows = c.headline.rows;
  const bars = rows.flatMap((r) => [
    { model: r.model, metric: "Recall@10", value: r.test["recall@10"], source: "measured" },
    { model: r.model, metric: "NDCG@10", value: r.test["ndcg@10"], source: "measured" },
    ...(c.dataset === "ml-1m" ? (c.published[r.model] ?? []) : []).flatMap((p) => [
      { model: r.model, metric: "Recall@10", value: p.recall10, source: `published (${p.source})` },
      { model: r.model, metric: "NDCG@10", value: p.ndcg10, source: `published (${p.source})` },
    ]),
  ]);
  const curves = rows.flatMap((r) =>
    Array.from({ length: 50 }, (_, i) => i + 1).flatMap((k) => [
      { model: r.model, k, metric: "Recall@K", value: r.test[`recall@${k}`] },
      { model: r.model, k, metric: "NDCG@K", value: r.test[`ndcg@${k}`] },
    ]),
  );
  const epochs = rows.flatMap((r) =>
    r.log.flatMap((e) => [
      { model: r.model, epoch: e.epoch, series: "training loss (BPR + L2)", value: e.loss },
      ...(e.valid ? [{ model: r.model, epoch: e.epoch, series: "valid NDCG@10", value: e.valid["ndcg@10"] }] : []),
    ]),
  );
  const quality = rows.map((r) => ({ model: r.model, seconds: Math.max(r.fit_seconds, 0.01), ndcg: r.test["ndcg@10"] }));
  // the served model's exported graph, at its model's fit time
  const servedFit = rows.find((r) => r.model === c.served?.model)?.fit_seconds;
  if (c.served && servedFit !== undefined)
    quality.push({ model: `served ${c.served.model} (model.onnx)`, seconds: Math.max(servedFit, 0.01), ndcg: c.served.test["ndcg@10"] });
  const charts: { title: string; spec: TopLevelSpec }[] = [
    {
      title: "Test NDCG@10 each model reaches against the seconds it took to fit (log scale, this machine)",
      spec: {
        data: { values: quality },
        width: WIDTH,
        height: 300,
        layer: [
          { mark: { type: "point", filled: true, size: 80 } },
          { mark: { type: "text", align: "left", dx: 7, dy: -6 }, encoding: { text: { field: "model" } } },
        ],
        encoding: {
          x: { field: "seconds", type: "quantitative", scale: { type: "log" }, title: "fit seconds (log scale)" },
          y: { field: "ndcg", type: "quantitative", scale: { zero: false }, title: "test NDCG@10" },
          color: { field: "model", sort: quality.map((r) => r.model), scale: { scheme: "tableau20" }, legend: null },
          tooltip: [{ field: "model" }, { field: "seconds", format: ".1f" }, { field: "ndcg", format: ".4f" }],
        },
      } as TopLevelSpec,
    },
    {
      title: "Test Recall@10 and NDCG@10 (full ranking, RecBole ml-1m protocol), with published figures",
      spec: {
        data: { values: bars },
        mark: "bar",
        width: 60,
        height: 260,
        encoding: {
          column: { field: "model", sort: rows.map((r) => r.model), title: null },
          x: { field: "metric", title: null },
          xOffset: { field: "source" },
          y: { field: "value", type: "quantitative", title: "test metric" },
          color: { field: "source", title: "figure", scale: { scheme: "tableau10" } },
          tooltip: [{ field: "model" }, { field: "metric" }, { field: "source" }, { field: "value", format: ".4f" }],
        },
      },
    },
    ...(["Recall@K", "NDCG@K"] as const).map((metric) => ({
      title: `Test ${metric} for K = 1..50`,
      spec: {
        data: { values: curves.filter((d) => d.metric === metric) },
        mark: { type: "line", point: false },
        width: WIDTH,
        height: 300,
        encoding: {
          x: { field: "k", type: "quantitative", title: "K" },
          y: { field: "value", type: "quantitative", title: metric },
          color: { field: "model", sort: rows.map((r) => r.model), scale: { scheme: "tableau10" } },
        },
      } as TopLevelSpec,
    })),
    ...(["training loss (BPR + L2)", "valid NDCG@10"] as const).map((series) => ({
      title: `Per-epoch ${series} of the trained models`,
      spec: {
        data: { values: epochs.filter((d) => d.series === series) },
        mark: { type: "line", point: series === "valid NDCG@10" },
        width: WIDTH,
        height: 260,
        encoding: {
          x: { field: "epoch", type: "quantitative" },
          y: { field: "value", type: "quantitative", title: series, scale: { zero: false } },
          color: { field: "model", scale: { scheme: "tableau10" } },
        },
      } as TopLevelSpec,
    })),
  ];
  return Promise.all(charts.map(async (ch) => ({ title: ch.title, svg: await svg(ch.spec) })));
}
