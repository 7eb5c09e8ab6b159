// Full-ranking evaluation of any Recommender: score users in batches over ALL items, hide
// what the user already interacted with (train for valid; train + valid for test), select the
// top K without a full sort, and average the metrics over users with held-out items.
import type { Recommender } from "../models/recommender.ts";
import { type Csr, rowOf } from "../protocol/csr.ts";
import { type Split, evaluationMask, heldOut } from "../protocol/protocols.ts";
import { MetricAccumulator, type MetricValues } from "./metrics.ts";
import { topK } from "../util/topk.ts";
import { Rng } from "../util/rng.ts";

export const DEFAULT_KS = [10, 20] as const;

/**
 * Above this many users, valid metrics (early stopping, tuning, the reported valid row) come
 * from a fixed, seeded sample of this many users; test always ranks every item for every user
 * (the exported graph, run once per user, is evaluated on the sample too).
 */
export const VALID_SAMPLE_USERS = 20_000;

/**
 * A fixed, seeded sample of `n` of `rows` users (ascending), for validation during training at
 * scale; null when there are no more users than that (every user is evaluated).
 */
export function userSample(rows: number, n: number, seed: number): Int32Array | null {
  if (rows <= n) return null;
  const all = Int32Array.from({ length: rows }, (_, i) => i);
  return new Rng(seed).shuffle(all).slice(0, n).sort();
}

export interface EvaluationOptions {
  ks?: readonly number[];
  batchSize?: number;
  /** Also report the tutorial's hits / min(K, n) as recall_capped@K (never as recall). */
  cappedRecall?: boolean;
  /** Evaluate only these users (ascending row indices): a fixed sample, at scale. */
  users?: Int32Array;
}

export interface Evaluation {
  metrics: MetricValues;
  users: number;
  seconds: number;
}

export function evaluate(model: Recommender, split: Split, which: "valid" | "test", opts: EvaluationOptions = {}): Promise<Evaluation> {
  return evaluateMatrices(model, split.train.cols, evaluationMask(split, which), heldOut(split, which), opts);
}

/** What evaluation needs of a model: score users from..to over all items, or rank them itself. */
export type Scoring = Pick<Recommender, "score" | "rank">;

/** The same, over explicit matrices: `mask` rows are hidden, `target` rows are relevant. */
export async function evaluateMatrices(model: Scoring, items: number, mask: Csr, target: Csr, opts: EvaluationOptions = {}): Promise<Evaluation> {
  if (model.rank) return evaluateRanked(model.rank.bind(model), mask, target, opts);
  const start = performance.now();
  const ks = opts.ks ?? DEFAULT_KS;
  const maxK = Math.max(...ks);
  const batch = opts.batchSize ?? 256;
  const acc = new MetricAccumulator(ks, { cappedRecall: opts.cappedRecall });
  const scores = new Float32Array(batch * items);
  const ranked = new Int32Array(maxK);
  const best = new Float64Array(maxK);
  const isRelevant = new Uint8Array(items);
  const relevant = (item: number): boolean => isRelevant[item] === 1;

  const rank = (u: number, offset: number): void => {
    const held = rowOf(target, u);
    for (const i of rowOf(mask, u)) scores[offset + i] = Number.NEGATIVE_INFINITY;
    const count = topK(scores, offset, items, maxK, ranked, best);
    for (const i of held) isRelevant[i] = 1;
    acc.add(ranked, count, relevant, held.length);
    for (const i of held) isRelevant[i] = 0;
  };
  if (opts.users) {
    // a sample: one user at a time (sampled users are rarely neighbours)
    for (const u of opts.users) {
      if (target.indptr[u + 1] === target.indptr[u]) continue;
      model.score(u, u + 1, scores);
      rank(u, 0);
    }
  } else {
    for (let from = 0; from < target.rows; from += batch) {
      const to = Math.min(target.rows, from + batch);
      // skip whole batches of users with nothing held out
      if (target.indptr[to] === target.indptr[from]) continue;
      model.score(from, to, scores);
      for (let u = from; u < to; u++) if (target.indptr[u + 1] > target.indptr[u]) rank(u, (u - from) * items);
    }
  }
  return { metrics: acc.result(), users: acc.userCount, seconds: (performance.now() - start) / 1000 };
}

/**
 * Evaluation of a model that ranks batches of users itself (on its backend): the same users,
 * masks and metrics as scoring, with the top-K selection done by the model.
 */
async function evaluateRanked(rank: NonNullable<Scoring["rank"]>, mask: Csr, target: Csr, opts: EvaluationOptions): Promise<Evaluation> {
  const start = performance.now();
  const ks = opts.ks ?? DEFAULT_KS;
  const maxK = Math.max(...ks);
  const batch = opts.batchSize ?? 256;
  const acc = new MetricAccumulator(ks, { cappedRecall: opts.cappedRecall });
  const users = Int32Array.from(opts.users ?? positions(target.rows)).filter((u) => target.indptr[u + 1] > target.indptr[u]);
  const isRelevant = new Uint8Array(target.cols);
  const relevant = (item: number): boolean => isRelevant[item] === 1;
  for (let b = 0; b < users.length; b += batch) {
    const chunk = users.subarray(b, Math.min(users.length, b + batch));
    const ranked = await rank(chunk, rowsOf(mask, chunk), maxK);
    chunk.forEach((u, r) => {
      const list = ranked.subarray(r * maxK, (r + 1) * maxK);
      const count = list.indexOf(-1) < 0 ? maxK : list.indexOf(-1);
      const held = rowOf(target, u);
      for (const i of held) isRelevant[i] = 1;
      acc.add(list, count, relevant, held.length);
      for (const i of held) isRelevant[i] = 0;
    });
  }
  return { metrics: acc.result(), users: acc.userCount, seconds: (performance.now() - start) / 1000 };
}

/** The rows `users` of m, as a matrix of their own (row r is m's row users[r]). */
function rowsOf(m: Csr, users: Int32Array): Csr {
  const indptr = new Int32Array(users.length + 1);
  users.forEach((u, r) => {
    indptr[r + 1] = indptr[r] + m.indptr[u + 1] - m.indptr[u];
  });
  const indices = new Int32Array(indptr[users.length]);
  users.forEach((u, r) => {
    indices.set(m.indices.subarray(m.indptr[u], m.indptr[u + 1]), indptr[r]);
  });
  return { rows: users.length, cols: m.cols, indptr, indices };
}

/**
 * Ranks one user's top `k` with `exclude` hidden (best first): what a served graph answers.
 * `exclude` is a view that is only valid during the call.
 */
function* positions(n: number): Generator<number> {
  for (let i = 0; i < n; i++) yield i;
}

export type Ranker = (user: number, exclude: Int32Array, k: number) => Promise<ArrayLike<number>>;

/**
 * The same evaluation for a model that only answers top-k lists (an exported graph): each user
 * with held-out items is ranked with its `mask` row excluded, and the same metrics averaged.
 */
export async function evaluateRanker(rank: Ranker, mask: Csr, target: Csr, opts: EvaluationOptions = {}): Promise<Evaluation> {
  const start = performance.now();
  const ks = opts.ks ?? DEFAULT_KS;
  const maxK = Math.max(...ks);
  const acc = new MetricAccumulator(ks, { cappedRecall: opts.cappedRecall });
  for (const u of opts.users ?? positions(target.rows)) {
    const held = rowOf(target, u);
    if (held.length === 0) continue;
    const ranked = await rank(u, rowOf(mask, u), maxK);
    const relevant = new Set(held);
    acc.add(ranked, ranked.length, (item) => relevant.has(item), held.length);
  }
  return { metrics: acc.result(), users: acc.userCount, seconds: (performance.now() - start) / 1000 };
}
