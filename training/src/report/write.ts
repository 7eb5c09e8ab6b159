// Writes artifacts/report/: comparison.json (every number), comparison.md (the tables) and
// report.html (tables and SVG charts, viewable offline).
import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../util/fs-atomic.ts";
import { comparisonCharts } from "./charts.ts";
import type { Comparison, ModelRow } from "./compare.ts";

export const REPORT_DIR = "report";
export const REPORT_FILES = { json: "comparison.json", markdown: "comparison.md", html: "report.html" } as const;

const f4 = (x: number | undefined): string => (x === undefined ? "" : x.toFixed(4));

function epochs(r: ModelRow): string {
  return r.epochs === null ? "" : `${r.best_epoch} / ${r.epochs}`;
}

function headlineTable(c: Comparison): string[][] {
  const head = [
    "model",
    "Recall@10",
    "NDCG@10",
    "Precision@10",
    "Recall@20",
    "NDCG@20",
    "Precision@20",
    "fit s",
    "best / run epochs",
    "published Recall@10 / NDCG@10",
  ];
  return [
    head,
    ...c.headline.rows.map((r) => [
      r.model,
      f4(r.test["recall@10"]),
      f4(r.test["ndcg@10"]),
      f4(r.test["precision@10"]),
      f4(r.test["recall@20"]),
      f4(r.test["ndcg@20"]),
      f4(r.test["precision@20"]),
      r.fit_seconds.toFixed(1),
      epochs(r),
      (c.dataset === "ml-1m" ? (c.published[r.model] ?? []) : [])
        .map((p) => `${p.recall10.toFixed(4)} / ${p.ndcg10.toFixed(4)} (${p.source}, published)`)
        .join("; "),
    ]),
    ...(c.served
      ? [
          [
            `served: ${c.served.model} (its model.onnx)`,
            f4(c.served.test["recall@10"]),
            f4(c.served.test["ndcg@10"]),
            f4(c.served.test["precision@10"]),
            f4(c.served.test["recall@20"]),
            f4(c.served.test["ndcg@20"]),
            f4(c.served.test["precision@20"]),
            "",
            "",
            `best published, any model: ${c.best_published.recall10.value} / ${c.best_published.ndcg10.value}`,
          ],
        ]
      : []),
  ];
}

function tutorialTable(c: Comparison): string[][] {
  const head = [
    "tutorial row",
    "model here",
    "tutorial's claimed Recall@10",
    "Recall@10 (standard)",
    "hits / min(10, n) (the tutorial's definition)",
    "NDCG@10",
  ];
  return [
    head,
    ...c.tutorial.rows.map((r) => [
      c.tutorial_claims[r.model]?.label ?? r.model,
      r.model,
      c.tutorial_claims[r.model]?.recall10.toFixed(2) ?? "",
      f4(r.test["recall@10"]),
      f4(r.test["recall_capped@10"]),
      f4(r.test["ndcg@10"]),
    ]),
  ];
}

function markdownTable(rows: string[][]): string {
  const [head, ...body] = rows;
  return [`| ${head.join(" | ")} |`, `|${head.map(() => " --- ").join("|")}|`, ...body.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

function htmlTable(rows: string[][]): string {
  const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const [head, ...body] = rows;
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead><tbody>${body.map((r) => `<tr>${r.map((x) => `<td>${esc(x)}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
}

function protocolText(c: Comparison): { headline: string; tutorial: string } {
  const h = c.headline.counts;
  const t = c.tutorial.counts;
  return {
    headline: `${c.dataset}, RecBole's ml-1m benchmark protocol: ratings >= 3, 10-core users and items (${h.interactions.toLocaleString("en-US")} interactions, ${h.users} users, ${h.items} items), random 80/10/10 split per user (seed ${c.seed}), full ranking over all items with train (valid) or train + valid (test) items masked. Parameters chosen on valid by NDCG@10; test figures below.`,
    tutorial: `The tutorial's protocol: ratings >= 4, no filtering (${t.interactions.toLocaleString("en-US")} interactions), one global random 80/20 split, no valid set; each model keeps the parameters (and epochs) chosen on the headline valid set. Training items are masked. "hits / min(10, n)" is the tutorial's recall definition, shown only for comparison with its claims: it is not recall.`,
  };
}

/** The sentences under the headline table: best published figures, time to quality. */
function headlineNotes(c: Comparison): string[] {
  const notes = [
    `RecBole's best published figures on this protocol, for any model: Recall@10 ${c.best_published.recall10.value} (${c.best_published.recall10.model}), NDCG@10 ${c.best_published.ndcg10.value} (${c.best_published.ndcg10.model}).`,
  ];
  if (c.served) {
    const s = c.served;
    notes.push(
      `Served: npm run publish picks ${s.model}, the exportable model with the best valid NDCG@10 (${f4(s.valid?.["ndcg@10"])} from its model.onnx). Its row is its exported model.onnx run through the same evaluation (${s.recs === "user" ? "the trained user vectors" : `given each user's ${s.recs === "history" ? "train history" : "index and train history"}, as the Worker does`}); the bundle is ${(s.bundle_bytes / 2 ** 20).toFixed(1)} MiB, model.onnx ${(s.model_bytes / 2 ** 20).toFixed(1)} MiB.`,
    );
  }
  const t = c.time_to_quality;
  if (t) {
    notes.push(
      t.seconds === null
        ? `Time to quality: ${t.model} never reached valid NDCG@10 ${t.valid_level.toFixed(4)}, the level RecBole's published test NDCG@10 ${t.published_test_ndcg10} corresponds to.`
        : `Time to quality: ${t.model} first reached valid NDCG@10 ${t.valid_level.toFixed(4)} (RecBole's published test NDCG@10 ${t.published_test_ndcg10}, scaled by this run's valid/test ratio at its best epoch) after ${t.seconds} s of training, at epoch ${t.epoch} (seed ${t.seed}, ${t.threads} threads). RecBole's recipe in PyTorch on the same two cores reached valid NDCG@10 0.171 after 42 minutes.`,
    );
  }
  return notes;
}

export function comparisonMarkdown(c: Comparison): string {
  const p = protocolText(c);
  return [
    `# Model comparison on ${c.dataset}`,
    "",
    `Reproduce with \`npm run compare\` (${c.total_seconds.toFixed(0)} s on this run, ${c.machine.cpus} CPU threads, Node ${c.machine.node}; ${c.created}).`,
    "",
    "## Headline: full ranking, RecBole protocol",
    "",
    p.headline,
    "",
    markdownTable(headlineTable(c)),
    "",
    ...headlineNotes(c).flatMap((n) => [n, ""]),
    "## The tutorial's table on the tutorial's protocol",
    "",
    p.tutorial,
    "",
    markdownTable(tutorialTable(c)),
    "",
  ].join("\n");
}

export async function writeReport(c: Comparison, artifactsDir: string): Promise<string> {
  const dir = join(artifactsDir, REPORT_DIR);
  const charts = await comparisonCharts(c);
  const p = protocolText(c);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgerec model comparison (${c.dataset})</title>
<style>
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; padding: 0 1rem; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
figure { margin: 2rem 0; } figcaption { font-weight: 600; margin-bottom: .5rem; }
code { background: #f3f3f3; padding: 0 3px; }
</style></head><body>
<h1>Model comparison on ${c.dataset}</h1>
<p>Reproduce with <code>npm run compare</code> (${c.total_seconds.toFixed(0)} s on this run, ${c.machine.cpus} CPU threads, Node ${c.machine.node}; ${c.created}).</p>
<h2>Headline: full ranking, RecBole protocol</h2>
<p>${p.headline}</p>
${htmlTable(headlineTable(c))}
${headlineNotes(c)
  .map((n) => `<p>${n}</p>`)
  .join("\n")}
<h2>The tutorial's table on the tutorial's protocol</h2>
<p>${p.tutorial}</p>
${htmlTable(tutorialTable(c))}
<h2>Charts</h2>
${charts.map((ch) => `<figure class="chart"><figcaption>${ch.title}</figcaption>${ch.svg}</figure>`).join("\n")}
</body></html>
`;
  writeJsonAtomic(join(dir, REPORT_FILES.json), c);
  writeFileAtomic(join(dir, REPORT_FILES.markdown), comparisonMarkdown(c));
  writeFileAtomic(join(dir, REPORT_FILES.html), html);
  return dir;
}
