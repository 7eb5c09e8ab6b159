// Plain-text results table: one row per model and evaluation set.
import type { MetricsFile } from "../contract/artifacts.ts";

const COLUMNS = ["recall@10", "ndcg@10", "precision@10", "hit@10", "mrr@10", "recall@20", "ndcg@20", "precision@20"] as const;

/** Parameters that steer the run, not the model: left out of the table (kept in metrics.json). */
const RUN_CONTROL = new Set(["threads", "epochs", "patience", "eval_every"]);

export function resultsTable(results: MetricsFile[]): string {
  const header = ["model", "set", ...COLUMNS, "fit s", "epochs", "params"];
  const rows: string[][] = [];
  for (const r of results) {
    for (const set of ["valid", "test"] as const) {
      const m = r[set];
      if (!m) continue;
      rows.push([
        r.model,
        set,
        ...COLUMNS.map((c) => m[c].toFixed(4)),
        set === "test" ? r.fit_seconds.toFixed(2) : "",
        set === "test" && r.epochs !== undefined ? `${r.best_epoch}/${r.epochs}` : "",
        set === "test"
          ? Object.entries(r.params)
              .filter(([k]) => !RUN_CONTROL.has(k))
              .map(([k, v]) => `${k}=${v}`)
              .join(" ")
          : "",
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i < 2 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
