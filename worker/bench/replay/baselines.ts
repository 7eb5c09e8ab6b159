// What the replay trains and compares against besides the Workers: the dataset before the cut
// (what the served model is trained on), EASE's own fold-in in Node (the baseline the served
// model should beat, on the same histories), and the blend's EASE weight chosen on a
// time-ordered validation before the cut (`--blend-weight time`).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUNDLE_FILES, type IdMaps, type Manifest, type PopularFile } from "../../../training/src/contract/artifacts.ts";
import type { Dataset } from "../../../training/src/data/parse.ts";
import { readTrainedState } from "../../../training/src/export/model-state.ts";
import { foldInScores, standardize } from "../../../training/src/models/foldin.ts";
import { runPipeline } from "../../../training/src/pipeline/pipeline.ts";
import { Tally } from "./drive.ts";
import { type Rating, datasetOf } from "../../../training/src/data/time-order.ts";

/**
 * EASE's own fold-in over a raw history, as a client that filters for it would get: the
 * history's positives EASE knows, times B; every history movie excluded; a history with no such
 * positive gets the same cold-start list the bundle serves (the served model's own answer).
 */
export function easeRanker(dir: string, k: number): (history: readonly Rating[]) => { ranked: number[]; cold: boolean } {
  const manifest = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.manifest), "utf8")) as Manifest;
  const ids = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.ids), "utf8")) as IdMaps;
  const popular = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.popular), "utf8")) as PopularFile;
  const own = manifest.model_items ?? manifest.items;
  const state = readTrainedState(dir, { users: manifest.users, items: own, recs: manifest.recs ?? "history", foldin: manifest.foldin ?? null }, "ease");
  if (!state.foldIn) throw new Error(`${dir} has no EASE fold-in`);
  const fold = state.foldIn;
  const index = new Map(ids.items.slice(0, own).map((id, i) => [id, i]));
  const scores = new Float32Array(own);
  return (history) => {
    const seen = new Set(history.map((e) => e.movie));
    const positives = [...new Set(history.filter((e) => e.rating >= 3).flatMap((e) => index.get(e.movie) ?? []))];
    if (positives.length === 0)
      return {
        ranked: popular.movies
          .map((m) => m.movieId)
          .filter((id) => !seen.has(id))
          .slice(0, k),
        cold: true,
      };
    foldInScores(fold, positives, scores);
    const order = Array.from({ length: own }, (_, i) => i)
      .filter((i) => !seen.has(ids.items[i]))
      .sort((a, b) => scores[b] - scores[a] || a - b)
      .slice(0, k);
    return { ranked: order.map((i) => ids.items[i]), cold: false };
  };
}

/**
 * EASE's fold-in on the same sampled ratings the arms are asked about, offline: `frozen` from the
 * history as of the cut, `live` from every earlier rating (what the live arm's Worker holds).
 */
export function easeBaseline(
  rank: ReturnType<typeof easeRanker>,
  before: readonly Rating[],
  after: readonly Rating[],
  chosen: ReadonlySet<number>,
): { frozen: Tally; live: Tally } {
  const histories = new Map<number, Rating[]>();
  const append = (e: Rating): void => {
    const h = histories.get(e.user);
    if (h) h.push(e);
    else histories.set(e.user, [e]);
  };
  for (const e of before) append(e);
  const frozen = new Map([...histories].map(([u, h]) => [u, [...h]]));
  const out = { frozen: new Tally(), live: new Tally() };
  for (const [n, e] of after.entries()) {
    if (chosen.has(n)) {
      for (const arm of ["frozen", "live"] as const) {
        const got = rank((arm === "frozen" ? frozen.get(e.user) : histories.get(e.user)) ?? []);
        if (got.cold) out[arm].coldStart++;
        out[arm].add(got.ranked, e.movie);
      }
    }
    append(e);
  }
  return out;
}

/** The EASE weights the time-ordered validation compares (the blend's own grid, and beyond it). */
const TIME_WEIGHTS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];

/** The parts of the blend trained in `dir`, each scoring a history standardized, as the blend mixes them. */
function blendParts(dir: string): { own: number; ids: number[]; parts: (history: number[]) => Float32Array[] } {
  const manifest = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.manifest), "utf8")) as Manifest;
  const ids = (JSON.parse(readFileSync(join(dir, BUNDLE_FILES.ids), "utf8")) as IdMaps).items;
  const own = manifest.model_items ?? manifest.items;
  const mix = readTrainedState(
    dir,
    { users: manifest.users, items: own, recs: manifest.recs ?? "user+history", foldin: manifest.foldin ?? null },
    "blend",
  ).foldIn;
  if (mix?.kind !== "mix") throw new Error(`${dir} holds no blend`);
  return {
    own,
    ids,
    parts: (history) =>
      mix.parts.map((p) => {
        const s = new Float32Array(own);
        foldInScores(p.foldIn, history, s, -1);
        standardize(s, own);
        return s;
      }),
  };
}

/**
 * The blend's EASE weight chosen as the replay measures, but before the cut: the blend trained
 * on the ratings before the period's own `cut`-th percentile time, then that period's later
 * ratings replayed (histories so far, folded in as the Worker folds them), best HR@k wins.
 * Nothing after the cut is read.
 */
export async function timeOrderedWeight(
  data: Dataset,
  pre: readonly Rating[],
  opts: { cut: number; seed: number; k: number },
): Promise<{ weight: number; hr: Record<string, number> }> {
  const innerCut = pre[Math.floor((pre.length * opts.cut) / 100)].timestamp;
  const early = pre.filter((e) => e.timestamp < innerCut);
  const late = pre.filter((e) => e.timestamp >= innerCut);
  const artifacts = mkdtempSync(join(tmpdir(), "edgerec-replay-weight-"));
  try {
    await runPipeline({
      models: [{ model: "blend", params: { ease_weight: 0.3 } }],
      dataset: `${data.name}-before-inner-cut`,
      data: datasetOf(data, early, "before-inner-cut"),
      protocol: "recbole",
      seed: opts.seed,
      artifacts,
      splitArtifacts: null,
      log: () => {},
    });
    const { own, ids, parts } = blendParts(join(artifacts, "blend"));
    const index = new Map(ids.slice(0, own).map((id, i) => [id, i]));
    // every later rating of the period (about 16,000 on ML-100K at the default cut): a sample of
    // 2,000 left neighbouring weights within a few hits of each other
    let replayed = 0;
    const histories = new Map<number, Rating[]>();
    const append = (e: Rating): void => {
      const h = histories.get(e.user);
      if (h) h.push(e);
      else histories.set(e.user, [e]);
    };
    for (const e of early) append(e);
    const hits = new Map<number, number>(TIME_WEIGHTS.map((w) => [w, 0]));
    for (const e of late) {
      const history = histories.get(e.user) ?? [];
      const positives = [...new Set(history.filter((h) => h.rating >= 3).flatMap((h) => index.get(h.movie) ?? []))];
      if (positives.length > 0) {
        replayed++;
        const seen = new Set(history.map((h) => h.movie));
        const [a, b] = parts(positives);
        for (const w of TIME_WEIGHTS) {
          const top = Array.from({ length: own }, (_, i) => i)
            .filter((i) => !seen.has(ids[i]))
            .map((i) => [w * a[i] + (1 - w) * b[i], i] as const)
            .sort((x, y) => y[0] - x[0] || x[1] - y[1])
            .slice(0, opts.k);
          if (top.some(([, i]) => ids[i] === e.movie)) hits.set(w, (hits.get(w) ?? 0) + 1);
        }
      }
      append(e);
    }
    const best = TIME_WEIGHTS.reduce((b, w) => ((hits.get(w) ?? 0) > (hits.get(b) ?? 0) ? w : b), TIME_WEIGHTS[0]);
    return { weight: best, hr: Object.fromEntries(TIME_WEIGHTS.map((w) => [String(w), Math.round(((hits.get(w) ?? 0) / replayed) * 10_000) / 10_000])) };
  } finally {
    rmSync(artifacts, { recursive: true, force: true });
  }
}
