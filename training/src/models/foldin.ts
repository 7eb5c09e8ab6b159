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

/** EASE / item-item: the history's indicator row times the items x items weight matrix. */
export interface ItemItemFoldIn {
  kind: "item-item";
  items: number;
  /** items x items, row-major: weights[i * items + j] is what history item i adds to item j. */
  weights: Float32Array;
}

export type FoldIn = PropagatedFoldIn | LeastSquaresFoldIn | ItemItemFoldIn;
export type FoldInKind = FoldIn["kind"];

/** Scores every item for one history (internal item indices, no duplicates, at least one). */
export function foldInScores(f: FoldIn, history: ArrayLike<number>, out: Float32Array): void {
  if (history.length === 0) throw new Error("fold-in needs at least one history item");
  if (out.length < f.items) throw new RangeError(`fold-in output holds ${out.length} scores, expected ${f.items}`);
  for (let k = 0; k < history.length; k++) {
    if (!(history[k] >= 0 && history[k] < f.items)) throw new RangeError(`history item ${history[k]} is outside 0..${f.items - 1}`);
  }
  if (f.kind === "item-item") {
    out.fill(0, 0, f.items);
    for (let k = 0; k < history.length; k++) {
      const row = history[k] * f.items;
      for (let j = 0; j < f.items; j++) out[j] += f.weights[row + j];
    }
    return;
  }
  const user = f.kind === "propagated" ? propagatedUser(f, history) : leastSquaresUser(f, history);
  const table = f.kind === "propagated" ? f.candidates : f.factors;
  dotAll(user, table, f.items, f.dim, out);
}

function propagatedUser(f: PropagatedFoldIn, history: ArrayLike<number>): Float64Array {
  const d = f.dim;
  const user = new Float64Array(d);
  for (let k = 0; k < history.length; k++) {
    const row = history[k] * d;
    for (let c = 0; c < d; c++) user[c] += f.contributions[row + c];
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
 */
export function foldInScorer(f: FoldIn, histories: Csr): { score(from: number, to: number, out: Float32Array): void } {
  return {
    score(from, to, out) {
      for (let u = from; u < to; u++) {
        const row = out.subarray((u - from) * f.items, (u - from + 1) * f.items);
        const h = histories.indices.subarray(histories.indptr[u], histories.indptr[u + 1]);
        if (h.length === 0) row.fill(0);
        else foldInScores(f, h, row);
      }
    },
  };
}
