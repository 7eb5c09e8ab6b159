// npm run bench:time-validation: how the blend folds in new users, chosen on time-ordered data
// without reading what bench:replay measures. ML-100K is cut at the replay's cut (the 80th
// percentile of its ratings' times); only the ratings BEFORE it are read. They are cut again at
// their own 80th percentile: the blend is trained on the early part (runPipeline, its EASE
// weight chosen on the protocol's valid set as npm run train chooses it), and every later rating
// of the period is ranked from that user's history so far (positives the model knows, oldest
// first, every history movie excluded), as POST /recs folds it in. A hit is the rated movie in
// the top 10 of the model's own items. Compared: the history weighed by recency (exp(-r / tau)
// for the entry r places before the latest; none: unweighted), for the blend as served, each
// part alone and the EASE weights 0..1. A benchmark: it asserts nothing. Ends with one JSON line.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { integer, runCli } from "../src/cli/options.ts";
import { BUNDLE_FILES, type IdMaps, type Manifest } from "../src/contract/artifacts.ts";
import { datasetSpec } from "../src/data/datasets.ts";
import { ensureDataset } from "../src/data/fetch.ts";
import { loadDataset } from "../src/data/parse.ts";
import { type Rating, datasetOf, eventsOf } from "../src/data/time-order.ts";
import { readTrainedState } from "../src/export/model-state.ts";
import { type MixFoldIn, foldInScores } from "../src/models/foldin.ts";
import { runPipeline } from "../src/pipeline/pipeline.ts";

const program = new Command("bench:time-validation")
  .description(
    "ML-100K before the replay's cut, cut again: train the blend on the early part, rank every later rating from the user's history so far; HR@10 / NDCG@10 by recency weighting and EASE weight.",
  )
  .option("--cut <percent>", "the replay's cut and the inner cut, as a percentile of the ratings' times", integer, 80)
  .option("--seed <n>", "seed of training", integer, 2020)
  .option("--recency <list>", "recency values compared (history entries; 0: unweighted)", "0,3,5,7,10,15,30")
  .option("--from <dir>", "copy ML-100K from this folder (one sub-folder per dataset)", process.env.MOVIELENS_DIR)
  .option("--data-dir <dir>", "where datasets are kept", "data");
program.parse();
const o = program.opts<{ cut: number; seed: number; recency: string; from?: string; dataDir: string }>();
const RECENCY = o.recency.split(",").map((v) => {
  const n = Number(v);
  if (!(n >= 0 && Number.isFinite(n))) throw new Error(`--recency: ${JSON.stringify(v)} is not a number >= 0 (a comma-separated list, e.g. 0,5,10)`);
  return n;
});
const WEIGHTS = [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];
const K = 10;

class Tally {
  hits = 0;
  ndcg = 0;
  add(scores: Float32Array, items: number, seen: Set<number>, target: number): void {
    if (target < 0) return;
    // the target's rank among unseen items (ties: the smaller index first, as the graphs rank)
    let rank = 0;
    for (let j = 0; j < items && rank < K; j++) {
      if (j === target || seen.has(j)) continue;
      if (scores[j] > scores[target] || (scores[j] === scores[target] && j < target)) rank++;
    }
    if (rank < K) {
      this.hits++;
      this.ndcg += 1 / Math.log2(rank + 2);
    }
  }
}

await runCli(async () => {
  const started = performance.now();
  const spec = datasetSpec("ml-100k");
  const data = await loadDataset(spec, await ensureDataset(spec, { from: o.from, dataDir: o.dataDir, log: console.log }));
  const events = eventsOf(data.ratings);
  const cutTime = events[Math.floor((events.length * o.cut) / 100)].timestamp;
  const pre = events.filter((e) => e.timestamp < cutTime);
  const innerCut = pre[Math.floor((pre.length * o.cut) / 100)].timestamp;
  const early = pre.filter((e) => e.timestamp < innerCut);
  const late = pre.filter((e) => e.timestamp >= innerCut);
  console.log(`ML-100K before the replay's cut: ${pre.length} ratings; cut again: ${early.length} to train on, ${late.length} later ones to rank`);

  const artifacts = mkdtempSync(join(tmpdir(), "edgerec-time-validation-"));
  let trained: { mix: MixFoldIn; ids: number[]; own: number };
  try {
    // recency 0: the bundle's mix unweighted; each recency compared is set on it below
    await runPipeline({
      models: [{ model: "blend", params: { recency: 0 } }],
      dataset: "ml-100k-early",
      data: datasetOf(data, early, "early"),
      protocol: "recbole",
      seed: o.seed,
      artifacts,
      splitArtifacts: null,
      log: () => {},
    });
    trained = blendOf(join(artifacts, "blend"));
  } finally {
    rmSync(artifacts, { recursive: true, force: true });
  }
  const { mix, ids, own } = trained;
  const easeWeight = mix.parts[0].weight;
  console.log(`blend: EASE weight ${easeWeight}, chosen on the protocol's valid set of the early part`);
  const index = new Map(ids.slice(0, own).map((id, i) => [id, i]));

  const served = new Map(RECENCY.map((r) => [r, new Tally()]));
  const grid = new Map(RECENCY.map((r) => [r, WEIGHTS.map(() => new Tally())]));
  // every user's history so far: the early part in full, then each later rating once ranked
  const histories = new Map<number, Rating[]>();
  const append = (e: Rating): void => {
    const h = histories.get(e.user);
    if (h) h.push(e);
    else histories.set(e.user, [e]);
  };
  for (const e of early) append(e);
  let ranked = 0;
  const [blend, easePart, graphPart, mixed] = [new Float32Array(own), new Float32Array(own), new Float32Array(own), new Float32Array(own)];
  for (const e of late) {
    const history = histories.get(e.user) ?? [];
    // the positives the model knows, oldest first, as the Worker hands them to fold-in
    const positives = history.filter((h) => h.rating >= 3).flatMap((h) => index.get(h.movie) ?? []);
    if (positives.length > 0) {
      ranked++;
      const seen = new Set(history.flatMap((h) => index.get(h.movie) ?? []));
      const target = index.get(e.movie) ?? -1;
      for (const r of RECENCY) {
        const recency = r > 0 ? { recency: r } : {};
        foldInScores({ ...mix, ...recency }, positives, blend, -1);
        served.get(r)?.add(blend, own, seen, target);
        // each part alone, standardized and weighed by recency as the mix does it
        foldInScores({ kind: "mix", items: own, parts: [{ weight: 1, foldIn: mix.parts[0].foldIn }], ...recency }, positives, easePart, -1);
        foldInScores({ kind: "mix", items: own, parts: [{ weight: 1, foldIn: mix.parts[1].foldIn }], ...recency }, positives, graphPart, -1);
        WEIGHTS.forEach((w, k) => {
          for (let j = 0; j < own; j++) mixed[j] = w * easePart[j] + (1 - w) * graphPart[j];
          grid.get(r)?.[k].add(mixed, own, seen, target);
        });
      }
    }
    append(e);
  }

  const r4 = (x: number): number => Math.round(x * 10_000) / 10_000;
  const hr = (t: Tally): number => r4(t.hits / Math.max(1, ranked));
  const ndcg = (t: Tally): number => r4(t.ndcg / Math.max(1, ranked));
  console.log(`${ranked} later ratings ranked (the others had no positive the model knows: the cold-start list, the same for every variant)`);
  console.log(`recency | blend as served (EASE weight ${easeWeight}): HR@10 / NDCG@10 | HR@10 at EASE weight ${WEIGHTS.join(" / ")}`);
  for (const r of RECENCY) {
    const s = served.get(r) as Tally;
    const g = grid.get(r) as Tally[];
    console.log(`${String(r || "none").padStart(7)} | ${hr(s).toFixed(4)} / ${ndcg(s).toFixed(4)} | ${g.map((t) => hr(t).toFixed(4)).join(" ")}`);
  }
  const best = RECENCY.reduce((b, r) => ((served.get(r)?.hits ?? 0) > (served.get(b)?.hits ?? 0) ? r : b), RECENCY[0]);
  console.log(`best recency for the blend as served: ${best || "none"}`);
  console.log(
    JSON.stringify({
      bench: "time-validation",
      dataset: "ml-100k",
      cut: { percentile: o.cut, before: pre.length, early: early.length, later: late.length },
      ranked,
      ease_weight: easeWeight,
      served: Object.fromEntries(RECENCY.map((r) => [String(r), { "hr@10": hr(served.get(r) as Tally), "ndcg@10": ndcg(served.get(r) as Tally) }])),
      hr_by_ease_weight: Object.fromEntries(
        RECENCY.map((r) => [String(r), Object.fromEntries(WEIGHTS.map((w, k) => [String(w), hr((grid.get(r) as Tally[])[k])]))]),
      ),
      best_recency: best,
      seconds: Math.round((performance.now() - started) / 100) / 10,
    }),
  );
});

/** The blend's mix, item ids and own item count from the bundle written in `dir`. */
function blendOf(dir: string): { mix: MixFoldIn; ids: number[]; own: number } {
  const manifest = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.manifest), "utf8")) as Manifest;
  const ids = (JSON.parse(readFileSync(join(dir, BUNDLE_FILES.ids), "utf8")) as IdMaps).items;
  const own = manifest.model_items ?? manifest.items;
  const state = readTrainedState(dir, { users: manifest.users, items: own, recs: manifest.recs ?? "user+history", foldin: manifest.foldin ?? null }, "blend");
  if (state.foldIn?.kind !== "mix") throw new Error(`${dir} holds no blend`);
  return { mix: state.foldIn, ids, own };
}
