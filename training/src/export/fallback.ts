// Scores for the served movies the model has no vector for (rated, but outside the protocol's
// filters): each is the weighted mean of the model's scores of its neighbours, the protocol
// movies its raters liked (see catalogue.ts). The graphs compute it after the model's own
// scores, so the model's scores of its own items (and the protocol's metrics) do not change;
// this reference is what tests compare the graphs with.
import { FALLBACK_NONE, type FallbackFile } from "../contract/artifacts.ts";

/** Movies the fallback scores (the catalogue's items after the model's). */
export function fallbackRows(f: FallbackFile): number {
  return f.k === 0 ? 0 : f.neighbours.length / f.k;
}

/** Whether fallback row e has any neighbour. */
function scored(f: FallbackFile, e: number): boolean {
  for (let s = 0; s < f.k; s++) if (f.weights[e * f.k + s] > 0) return true;
  return false;
}

/** The fallback movies' scores from the model's scores of its own items. */
export function fallbackScores(f: FallbackFile, modelScores: ArrayLike<number>): Float32Array {
  const rows = fallbackRows(f);
  const out = new Float32Array(rows);
  for (let e = 0; e < rows; e++) {
    let s = 0;
    for (let slot = 0; slot < f.k; slot++) s += f.weights[e * f.k + slot] * modelScores[f.neighbours[e * f.k + slot]];
    out[e] = scored(f, e) ? s : FALLBACK_NONE;
  }
  return out;
}

/** Per fallback row: 0, or FALLBACK_NONE when the movie has no neighbour (what the graphs add). */
export function fallbackBias(f: FallbackFile): Float32Array {
  return Float32Array.from({ length: fallbackRows(f) }, (_, e) => (scored(f, e) ? 0 : FALLBACK_NONE));
}

/**
 * A table of item rows (items x dim) extended with a row per fallback movie: the weighted mean
 * of its neighbours' rows (zeros without neighbours). For a dot-product scorer this is the same
 * fallback (the mean of the scores is the score of the mean); for cosine tables, normalize after.
 */
export function extendRows(table: Float32Array, items: number, dim: number, f: FallbackFile): Float32Array {
  const rows = fallbackRows(f);
  const out = new Float32Array((items + rows) * dim);
  out.set(table.subarray(0, items * dim));
  for (let e = 0; e < rows; e++) {
    const at = (items + e) * dim;
    for (let slot = 0; slot < f.k; slot++) {
      const w = f.weights[e * f.k + slot];
      if (w === 0) continue;
      const from = f.neighbours[e * f.k + slot] * dim;
      for (let c = 0; c < dim; c++) out[at + c] += w * table[from + c];
    }
  }
  return out;
}
