// Fold-in: a user's vector (or score row) built from a history of items the way the model
// itself builds one, so that a user the model never saw, or a visitor who keeps their own
// history, gets recommendations without retraining. Each model describes its fold-in as plain
// data; the reference scorer below and the ONNX exporter both read that description, so what is
// evaluated here is what the Worker runs.
import type { Csr } from "../protocol/csr.ts";

/**
 * LightGCN-style: user = |H|^-1/2 * sum over history items i of contributions[i], then a dot
 * product with every item's final embedding. contributions[i] folds the item's symmetric
 * normalisation (1/sqrt(deg i)), its layer embeddings and the layer mean into one row.
 */
export interface PropagatedFoldIn {
  kind: "propagated";
  items: number;
  dim: number;
  /** items x dim. */
  contributions: Float32Array;
  /** items x dim: the final item embeddings scored against. */
  candidates: Float32Array;
  /**
   * Compact tables for large catalogues (see compactFoldIn): the contributions are already
   * rounded to float16 and stored so, and candidates are scored in int8 (`candidates` is then
   * not exported).
   */
  compact?: CompactCandidates;
}

/** int8 candidates with one scale per item: candidate j ~ values[j * dim ..] * scales[j]. */
export interface CompactCandidates {
  values: Int8Array;
  scales: Float32Array;
}

/**
 * iALS: the user's least-squares solve with the item factors Y fixed:
 * (Y^T Y + reg I + alpha * Y_H^T Y_H) x = (1 + alpha) * sum_{i in H} y_i, then x . y_j.
 */
export interface LeastSquaresFoldIn {
  kind: "least-squares";
  items: number;
  dim: number;
  /** items x dim. */
  factors: Float32Array;
  /** dim x dim: Y^T Y + reg I. */
  gram: Float32Array;
  alpha: number;
}

/**
 * EASE / item-item: the history's indicator row times the items x items weight matrix. The
 * matrix is served in half precision (half the bytes of the largest table in any bundle), so
 * the description holds weights already rounded to float16: reference and graph score alike.
 */
export interface ItemItemFoldIn {
  kind: "item-item";
  items: number;
  /** items x items, row-major: weights[i * items + j] is what history item i adds to item j. */
  weights: Float32Array;
}

/**
 * A trained user vector for a user the model was trained on, the propagated fold-in for anyone
 * else; both are scored against the fold-in's candidates. It scores a (user, history) pair,
 * user -1 meaning "not trained on", so one graph serves known and new users.
 */
export interface KnownUserFoldIn {
  kind: "known-user";
  items: number;
  dim: number;
  /** users x dim: the trained user vectors. */
  users: Float32Array;
  foldIn: PropagatedFoldIn;
}

/**
 * A blend: each part's scores standardized over all items (mean 0, standard deviation 1), then
 * summed with the parts' weights. Standardizing puts models with unlike score scales on one.
 */
export interface MixFoldIn {
  kind: "mix";
  items: number;
  parts: { weight: number; foldIn: Exclude<FoldIn, MixFoldIn> }[];
  /**
   * Recency, in history entries: a history folded in for a user the model was not trained on
   * (user -1) is in time order, oldest first, and its entry r places before the latest weighs
   * exp(-r / recency) in every part (the next movie a person rates is more like what they rated
   * last than what they rated long ago). Absent or 0: every entry weighs 1. A known user's
   * history is a set (the snapshot keeps no order), so it is never weighted; a mix without a
   * known-user part has no known users and weighs every history.
   */
  recency?: number;
}

export type FoldIn = PropagatedFoldIn | LeastSquaresFoldIn | ItemItemFoldIn | KnownUserFoldIn | MixFoldIn;
export type FoldInKind = FoldIn["kind"];

/** Whether scoring also takes the user's index (a known-user part): the graph then has a `user` input. */
export function takesUser(f: FoldIn): boolean {
  return f.kind === "known-user" || (f.kind === "mix" && f.parts.some((p) => takesUser(p.foldIn)));
}

/**
 * Scores every item for one history (internal item indices, no duplicates, at least one).
 * `user` is the user's trained index, or -1 for a user the model was not trained on; only
 * known-user parts read it.
 */
export function foldInScores(f: FoldIn, history: ArrayLike<number>, out: Float32Array, user = -1): void {
  if (history.length === 0) throw new Error("fold-in needs at least one history item");
  if (out.length < f.items) throw new RangeError(`fold-in output holds ${out.length} scores, expected ${f.items}`);
  for (let k = 0; k < history.length; k++) {
    if (!(history[k] >= 0 && history[k] < f.items)) throw new RangeError(`history item ${history[k]} is outside 0..${f.items - 1}`);
  }
  if (f.kind === "mix") {
    mixScores(f, history, out, user);
    return;
  }
  partScores(f, history, out, user, null);
}

/**
 * The weight of each entry of a history in time order (oldest first): exp(-r / recency) for the
 * entry r places before the latest, as the graph computes it (float32).
 */
export function recencyWeights(length: number, recency: number): Float32Array {
  const out = new Float32Array(length);
  for (let k = 0; k < length; k++) out[k] = Math.exp(Math.fround(Math.fround(length - 1 - k) * Math.fround(-1 / recency)));
  return out;
}

/** One part's scores; `weights` (one per history entry, null: all 1) weigh the history's entries. */
function partScores(f: Exclude<FoldIn, MixFoldIn>, history: ArrayLike<number>, out: Float32Array, user: number, weights: Float32Array | null): void {
  if (f.kind === "known-user") {
    if (user >= f.users.length / f.dim) throw new RangeError(`user ${user} is outside the ${f.users.length / f.dim} trained users`);
    const vector = user >= 0 ? Float64Array.from(f.users.subarray(user * f.dim, (user + 1) * f.dim)) : propagatedUser(f.foldIn, history, weights);
    dotAll(vector, f.foldIn.candidates, f.items, f.dim, out);
    return;
  }
  if (f.kind === "item-item") {
    out.fill(0, 0, f.items);
    for (let k = 0; k < history.length; k++) {
      const row = history[k] * f.items;
      const w = weights ? weights[k] : 1;
      for (let j = 0; j < f.items; j++) out[j] += w * f.weights[row + j];
    }
    return;
  }
  if (f.kind === "least-squares" && weights)
    throw new Error("fold-in: a least-squares part cannot weigh its history (recency is for item-item and propagated parts)");
  const vector = f.kind === "propagated" ? propagatedUser(f, history, weights) : leastSquaresUser(f, history);
  if (f.kind === "propagated" && f.compact) {
    quantizedDots(vector, f.compact, f.items, f.dim, out);
    return;
  }
  const table = f.kind === "propagated" ? f.candidates : f.factors;
  dotAll(vector, table, f.items, f.dim, out);
}

/**
 * The propagated fold-in with compact tables: contributions rounded to float16 and candidates
 * quantized to int8 with a scale per item (symmetric, 127 steps), about 3x smaller than float32.
 */
export function compactFoldIn(f: PropagatedFoldIn): PropagatedFoldIn {
  return { ...f, contributions: roundToHalf(f.contributions), compact: quantizeRows(f.candidates, f.items, f.dim) };
}

/** int8 rows with a scale each (symmetric: the row's largest magnitude maps to 127). */
export function quantizeRows(table: Float32Array, rows: number, dim: number): CompactCandidates {
  const values = new Int8Array(rows * dim);
  const scales = new Float32Array(rows);
  for (let j = 0; j < rows; j++) {
    let max = 0;
    for (let c = 0; c < dim; c++) max = Math.max(max, Math.abs(table[j * dim + c]));
    const scale = max > 0 ? max / 127 : 1;
    scales[j] = scale;
    for (let c = 0; c < dim; c++) values[j * dim + c] = Math.max(-127, Math.min(127, Math.round(table[j * dim + c] / scale)));
  }
  return { values, scales };
}

/** Round half to even, as ONNX's quantization rounds. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Scores against int8 candidates the way the graph does: the float32 user vector quantized like
 * ONNX's DynamicQuantizeLinear (uint8, asymmetric, range including 0), integer dot products,
 * then both scales.
 */
function quantizedDots(user: Float64Array, q: CompactCandidates, items: number, d: number, out: Float32Array): void {
  const x = Float32Array.from(user);
  let lo = 0;
  let hi = 0;
  for (const v of x) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const scale = Math.fround((hi - lo) / 255);
  if (scale === 0) {
    out.fill(0, 0, items);
    return;
  }
  const zp = Math.max(0, Math.min(255, roundHalfEven(Math.fround(-lo / scale))));
  const centred = Int32Array.from(x, (v) => Math.max(0, Math.min(255, roundHalfEven(Math.fround(v / scale)) + zp)) - zp);
  for (let j = 0; j < items; j++) {
    let acc = 0;
    for (let c = 0; c < d; c++) acc += centred[c] * q.values[j * d + c];
    out[j] = Math.fround(Math.fround(acc) * scale) * q.scales[j];
  }
}

/** Rounds every weight to the nearest float16 (the precision item-item weights are served in). */
export function roundToHalf(weights: Float32Array): Float32Array {
  const out = new Float32Array(weights.length);
  for (let k = 0; k < weights.length; k++) out[k] = Math.f16round(weights[k]);
  return out;
}

/** Scales the first `n` scores to mean 0 and standard deviation 1 (left at 0 when all are equal). */
export function standardize(scores: Float32Array, n: number): void {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += scores[i];
  mean /= n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (scores[i] - mean) ** 2;
  const sd = Math.sqrt(sq / n) || 1;
  for (let i = 0; i < n; i++) scores[i] = (scores[i] - mean) / sd;
}

function mixScores(f: MixFoldIn, history: ArrayLike<number>, out: Float32Array, user: number): void {
  const part = new Float32Array(f.items);
  // a mix without a known-user part serves no known users: every history is a new user's
  const weights = f.recency && (user < 0 || !takesUser(f)) ? recencyWeights(history.length, f.recency) : null;
  out.fill(0, 0, f.items);
  for (const { weight, foldIn } of f.parts) {
    partScores(foldIn, history, part, user, weights);
    standardize(part, f.items);
    for (let i = 0; i < f.items; i++) out[i] += weight * part[i];
  }
}

function propagatedUser(f: PropagatedFoldIn, history: ArrayLike<number>, weights: Float32Array | null = null): Float64Array {
  const d = f.dim;
  const user = new Float64Array(d);
  for (let k = 0; k < history.length; k++) {
    const row = history[k] * d;
    const w = weights ? weights[k] : 1;
    for (let c = 0; c < d; c++) user[c] += w * f.contributions[row + c];
  }
  const norm = 1 / Math.sqrt(history.length);
  for (let c = 0; c < d; c++) user[c] *= norm;
  return user;
}

/** Exact solve in float64 (Cholesky); the ONNX graph iterates towards the same vector. */
function leastSquaresUser(f: LeastSquaresFoldIn, history: ArrayLike<number>): Float64Array {
  const d = f.dim;
  const a = Float64Array.from(f.gram);
  const b = new Float64Array(d);
  for (let k = 0; k < history.length; k++) {
    const y = f.factors.subarray(history[k] * d, history[k] * d + d);
    for (let r = 0; r < d; r++) {
      b[r] += (1 + f.alpha) * y[r];
      for (let c = 0; c <= r; c++) a[r * d + c] += f.alpha * y[r] * y[c];
    }
  }
  // Cholesky A = L L^T in the lower triangle, then two triangular solves.
  for (let j = 0; j < d; j++) {
    let s = a[j * d + j];
    for (let k = 0; k < j; k++) s -= a[j * d + k] ** 2;
    if (!(s > 0)) throw new Error("least-squares fold-in: the system is not positive definite");
    const diag = Math.sqrt(s);
    a[j * d + j] = diag;
    for (let i = j + 1; i < d; i++) {
      let t = a[i * d + j];
      for (let k = 0; k < j; k++) t -= a[i * d + k] * a[j * d + k];
      a[i * d + j] = t / diag;
    }
  }
  for (let i = 0; i < d; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= a[i * d + k] * b[k];
    b[i] = s / a[i * d + i];
  }
  for (let i = d - 1; i >= 0; i--) {
    let s = b[i];
    for (let k = i + 1; k < d; k++) s -= a[k * d + i] * b[k];
    b[i] = s / a[i * d + i];
  }
  return b;
}

function dotAll(user: Float64Array, table: Float32Array, items: number, d: number, out: Float32Array): void {
  for (let j = 0; j < items; j++) {
    let s = 0;
    const row = j * d;
    for (let c = 0; c < d; c++) s += user[c] * table[row + c];
    out[j] = s;
  }
}

/**
 * Scores rows of a history matrix by fold-in, with the same score(from, to, out) shape as a
 * Recommender, so full-ranking evaluation scores fold-in users without knowing it does.
 * `rowsAreTrainedUsers`: row u is trained user u (known-user parts use its vector); otherwise
 * every row is a user the model never saw.
 */
export function foldInScorer(f: FoldIn, histories: Csr, rowsAreTrainedUsers = false): { score(from: number, to: number, out: Float32Array): void } {
  // a matrix row is a set of items, not a sequence: no entry is the latest, so none is weighed by recency
  if (f.kind === "mix" && f.recency) return foldInScorer(unordered(f), histories, rowsAreTrainedUsers);
  return {
    score(from, to, out) {
      for (let u = from; u < to; u++) {
        const row = out.subarray((u - from) * f.items, (u - from + 1) * f.items);
        const h = histories.indices.subarray(histories.indptr[u], histories.indptr[u + 1]);
        if (h.length === 0) row.fill(0);
        else foldInScores(f, h, row, rowsAreTrainedUsers ? u : -1);
      }
    },
  };
}

/** The mix without recency weighting (for histories that have no time order). */
export function unordered(f: MixFoldIn): MixFoldIn {
  return { kind: "mix", items: f.items, parts: f.parts };
}
