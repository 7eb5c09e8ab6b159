// npm run bench:cold-items: how well a movie added after training is recommended by item fold-in
// (training/src/shared/item-foldin.ts, the code the Worker runs for the live catalogue) against a
// model retrained with it. A seeded 5% of the split's movies is held out of training entirely
// (every interaction with them removed from train); each is then folded in from its
// training-period ratings (its train raters) and scored as the weighted sum of the model's
// scores of its neighbours. Both models rank every movie for every test user (train + valid
// masked, as the protocol does), and recall/NDCG count only the held-out movies among the test
// items: can a new movie reach the top 10 of the users who go on to like it. A third row scores
// the held-out movies from their genres alone (a movie nobody has rated yet).
// Model: EASE (trains ML-1M in well under a minute on one core; the served blend would need two
// LightGCN trainings). Prints progress on stderr and one JSON line at the end.
import { Command } from "commander";
import { integer } from "../src/cli/options.ts";
import { sharedKernelMemory } from "../src/engine/create.ts";
import { type Evaluation, evaluateMatrices } from "../src/eval/evaluate.ts";
import { modelFactory } from "../src/models/registry.ts";
import type { Recommender } from "../src/models/recommender.ts";
import { prepare } from "../src/pipeline/prepare.ts";
import { type Csr, columnCounts, csrFromTriples, rowOf } from "../src/protocol/csr.ts";
import { DEFAULT_SEED, evaluationMask } from "../src/protocol/protocols.ts";
import { type ItemNeighbours, foldedScore, genreFoldIn, itemFoldIn } from "../src/shared/item-foldin.ts";
import { Rng } from "../src/util/rng.ts";
import { topK } from "../src/util/topk.ts";

/** Scales of the fold-in weights tried on valid (see ITEM_FOLDIN_SCALE). */
const SCALES = [1, 0.975, 0.95, 0.925, 0.9, 0.85, 0.8, 0.7];

const opts = new Command("bench:cold-items")
  .description(
    "Hold out a share of the movies from training, fold them in from their train raters, and compare their test recall with a model retrained with them.",
  )
  .option("--dataset <name>", "MovieLens dataset", "ml-1m")
  .option("--protocol <name>", "protocol", "recbole")
  .option("--share <fraction>", "share of the split's movies held out", Number, 0.05)
  .option("--seed <n>", "seed of the held-out movies (the split's is the protocol's)", integer, 7)
  .option("--lambda <n>", "EASE's lambda", Number, 1000)
  .option("--from <dir>", "datasets folder", process.env.MOVIELENS_DIR)
  .parse()
  .opts<{ dataset: string; protocol: string; share: number; seed: number; lambda: number; from?: string }>();

if (!(opts.share > 0 && opts.share < 1)) throw new Error(`--share must be between 0 and 1 (exclusive), got ${opts.share}`);

const log = (line: string): void => console.error(line);
const { data, split } = await prepare({ dataset: opts.dataset, protocol: opts.protocol, seed: DEFAULT_SEED, from: opts.from, log });
const items = split.counts.items;
const held = new Uint8Array(items);
const order = new Rng(opts.seed).shuffle(Int32Array.from({ length: items }, (_, i) => i));
const heldCount = Math.round(items * opts.share);
for (const i of order.subarray(0, heldCount)) held[i] = 1;
const heldItems = Array.from(order.subarray(0, heldCount)).sort((a, b) => a - b);

/** `m` without the entries whose column passes `drop`. */
function withoutColumns(m: Csr, drop: (col: number) => boolean): Csr {
  const r: number[] = [];
  const c: number[] = [];
  const v: number[] = [];
  for (let u = 0; u < m.rows; u++)
    for (let p = m.indptr[u]; p < m.indptr[u + 1]; p++) {
      if (drop(m.indices[p])) continue;
      r.push(u);
      c.push(m.indices[p]);
      v.push(m.values ? m.values[p] : 1);
    }
  return csrFromTriples(m.rows, m.cols, r, c, m.values ? v : undefined);
}

const trainWithout = withoutColumns(split.train, (i) => held[i] === 1);
// test targets: the held-out movies only (users with none are not counted)
const testHeld = withoutColumns(split.test, (i) => held[i] === 0);
const validHeld = split.valid ? withoutColumns(split.valid, (i) => held[i] === 0) : null;
const testMask = evaluationMask(split, "test");
log(
  `held out ${heldCount} of ${items} movies (seed ${opts.seed}): ${split.train.indices.length - trainWithout.indices.length} train interactions removed; ${testHeld.indices.length} test interactions on them`,
);

async function fitEase(train: Csr): Promise<Recommender> {
  const factory = modelFactory("ease");
  const model = factory.create({ ...factory.defaults, lambda: opts.lambda });
  const t = performance.now();
  await model.fit(train, { seed: split.seed, log, memory: sharedKernelMemory() });
  log(`ease fitted on ${train.indices.length} interactions in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  return model;
}

/** The model's scores, with the held-out movies' replaced by their fold-in (null: never ranked). */
function foldedScoring(model: Recommender, folded: Map<number, ItemNeighbours>) {
  return {
    score(from: number, to: number, out: Float32Array): void {
      model.score(from, to, out);
      for (let u = 0; u < to - from; u++) {
        const row = out.subarray(u * items, (u + 1) * items);
        // every neighbour is a model movie (never held out), so the row's own scores are the model's
        for (const [i, f] of folded) row[i] = foldedScore(f, row) ?? Number.NEGATIVE_INFINITY;
      }
    },
  };
}

const ks = [10, 20];

/** The share of the top-10 places of users with a `target` row that the held-out movies take. */
function top10Share(scoring: Pick<Recommender, "score">, mask: Csr, target: Csr): number {
  const batch = 256;
  const out = new Float32Array(batch * items);
  const top = new Int32Array(10);
  let slots = 0;
  let heldSlots = 0;
  for (let from = 0; from < target.rows; from += batch) {
    const to = Math.min(target.rows, from + batch);
    scoring.score(from, to, out);
    for (let u = from; u < to; u++) {
      if (target.indptr[u + 1] === target.indptr[u]) continue;
      const offset = (u - from) * items;
      for (const i of rowOf(mask, u)) out[offset + i] = Number.NEGATIVE_INFINITY;
      const n = topK(out, offset, items, 10, top);
      slots += n;
      for (let r = 0; r < n; r++) heldSlots += held[top[r]];
    }
  }
  return slots > 0 ? heldSlots / slots : 0;
}
const evaluateOn = (scoring: Pick<Recommender, "score">, mask: Csr, target: Csr): Promise<Evaluation> => evaluateMatrices(scoring, items, mask, target, { ks });

// 1. retrained: the movies were there all along
const retrained = await fitEase(split.train);
const retrainedTest = await evaluateOn(retrained, testMask, testHeld);
// every test item, every movie: what placing the new movies costs (or gives) the rest of the list
const retrainedAll = await evaluateOn(retrained, testMask, split.test);
const retrainedShare = top10Share(retrained, testMask, split.test);
retrained.dispose?.();
log(`retrained: test recall@10 on the held-out movies ${retrainedTest.metrics["recall@10"].toFixed(4)} (${retrainedTest.users} users)`);

// 2. fold-in: trained without them, then each folded in from its train raters
const withoutModel = await fitEase(trainWithout);
const popularity = columnCounts(trainWithout);
const ratersOf: number[][] = heldItems.map(() => []);
const slot = new Map(heldItems.map((i, s) => [i, s]));
for (let u = 0; u < split.train.rows; u++) for (const i of rowOf(split.train, u)) if (held[i]) ratersOf[slot.get(i) as number].push(u);
const foldAll = (scale: number) =>
  new Map(
    heldItems.map((i, s) => [
      i,
      itemFoldIn(
        ratersOf[s].map((u) => rowOf(trainWithout, u)),
        popularity,
        { scale },
      ),
    ]),
  );
// The scale of the weights, chosen on valid by calibration: the held-out movies should take the
// share of the top-10 places that they have of the valid positives (shown as often as they are
// liked). Valid NDCG@10 over every item would choose hiding them (it rises while the scale falls
// to 0.8, where they almost never show): a new movie's fold-in is noisier than a trained one.
const validTarget = split.valid ?? split.test;
let heldPositives = 0;
for (const i of validTarget.indices) heldPositives += held[i];
const likedShare = heldPositives / validTarget.indices.length;
// Each scale's test figures are reported too (never used to choose): what another choice would give.
const tuning: {
  scale: number;
  valid_ndcg10: number;
  valid_recall10_held: number;
  top10_share: number;
  test_recall10_held: number;
  test_top10_share: number;
}[] = [];
for (const scale of SCALES) {
  const scoring = foldedScoring(withoutModel, foldAll(scale));
  const all = await evaluateOn(scoring, split.train, validTarget);
  const heldValid = validHeld ? await evaluateOn(scoring, split.train, validHeld) : all;
  const share = top10Share(scoring, split.train, validTarget);
  const heldTest = await evaluateOn(scoring, testMask, testHeld);
  tuning.push({
    scale,
    valid_ndcg10: all.metrics["ndcg@10"],
    valid_recall10_held: heldValid.metrics["recall@10"],
    top10_share: share,
    test_recall10_held: heldTest.metrics["recall@10"],
    test_top10_share: top10Share(scoring, testMask, split.test),
  });
  log(
    `scale ${scale}: valid ndcg@10 ${all.metrics["ndcg@10"].toFixed(4)} (every item), recall@10 ${heldValid.metrics["recall@10"].toFixed(4)} (held-out movies), their share of the top 10 ${share.toFixed(4)} (of valid positives: ${likedShare.toFixed(4)})`,
  );
}
const chosenScale = tuning.reduce((best, t) => (Math.abs(t.top10_share - likedShare) < Math.abs(best.top10_share - likedShare) ? t : best), tuning[0]).scale;
const byRaters = foldAll(chosenScale);
const foldinTest = await evaluateOn(foldedScoring(withoutModel, byRaters), testMask, testHeld);
log(`fold-in: test recall@10 on the held-out movies ${foldinTest.metrics["recall@10"].toFixed(4)}`);
const foldinAll = await evaluateOn(foldedScoring(withoutModel, byRaters), testMask, split.test);
const foldinShare = top10Share(foldedScoring(withoutModel, byRaters), testMask, split.test);

// 3. genres only: the same movies before anyone rated them
const movieById = new Map(data.movies.map((m) => [m.movieId, m]));
const genresOf = Array.from(split.itemIds, (id, i) => (held[i] ? [] : (movieById.get(id)?.genres ?? [])));
const byGenres = new Map(heldItems.map((i) => [i, genreFoldIn(movieById.get(split.itemIds[i])?.genres ?? [], genresOf, popularity, { scale: chosenScale })]));
const genresTest = await evaluateOn(foldedScoring(withoutModel, byGenres), testMask, testHeld);
withoutModel.dispose?.();
log(`genres only: test recall@10 on the held-out movies ${genresTest.metrics["recall@10"].toFixed(4)}`);

const pick = (e: Evaluation) => ({ "recall@10": e.metrics["recall@10"], "ndcg@10": e.metrics["ndcg@10"], "recall@20": e.metrics["recall@20"] });
const foldin = foldinTest.metrics["recall@10"];
const retrainedRecall = retrainedTest.metrics["recall@10"];
console.log(
  JSON.stringify({
    dataset: opts.dataset,
    protocol: opts.protocol,
    model: "ease",
    lambda: opts.lambda,
    held_out_movies: heldCount,
    held_out_seed: opts.seed,
    test_users: retrainedTest.users,
    foldin,
    retrained: retrainedRecall,
    ratio: retrainedRecall > 0 ? foldin / retrainedRecall : null,
    genres_only: genresTest.metrics["recall@10"],
    detail: { retrained: pick(retrainedTest), foldin: pick(foldinTest), genres_only: pick(genresTest) },
    chosen_scale: chosenScale,
    valid_positive_share: likedShare,
    tuning,
    // every test item (not only the held-out movies' ones)
    all_test_items: { retrained: pick(retrainedAll), foldin: pick(foldinAll) },
    // the share of test users' top-10 places the held-out movies take
    top10_share: { retrained: retrainedShare, foldin: foldinShare },
  }),
);
