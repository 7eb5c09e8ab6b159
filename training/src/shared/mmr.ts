// Maximal marginal relevance (Carbonell & Goldstein, 1998): re-ranks a scored list so that each
// next pick trades its relevance against its similarity to what was already picked. The same code
// re-ranks in the Worker (a request's `diversity`) and in training/bench/diversity.ts, whose table
// in docs/rules.md is therefore a table of what is served. Genre similarity is here too: it is
// what the Worker uses (every bundle has genres; docs/rules.md has the measurement that chose it).
import type { Scored } from "./int8-ranker.ts";

/** How many of the best-scored items MMR chooses from (the Worker ranks this many, then re-ranks). */
export const MMR_POOL = 100;

/**
 * The best `k` of `candidates` (best first) re-ranked by MMR: pick after pick, the candidate with
 * the largest (1 - diversity) * relevance - diversity * (its largest similarity to a picked one).
 * Relevance is the score scaled to [0, 1] over the candidates, so `diversity` means the same for
 * every model. diversity 0 is the list as ranked; 1 ignores relevance after the first pick (the
 * best-scored item), then takes the least similar; ties go to the better-scored candidate.
 * `similarity(a, b)` takes candidate positions and is expected in [0, 1].
 */
export function mmr(candidates: readonly Scored[], k: number, diversity: number, similarity: (a: number, b: number) => number): Scored[] {
  const n = candidates.length;
  const count = Math.min(k, n);
  if (diversity <= 0 || count <= 1) return candidates.slice(0, count);
  let max = Number.NEGATIVE_INFINITY;
  let min = Number.POSITIVE_INFINITY;
  for (const c of candidates) {
    max = Math.max(max, c.score);
    min = Math.min(min, c.score);
  }
  const range = max - min;
  const relevance = candidates.map((c) => (range > 0 ? (c.score - min) / range : 1));
  // each candidate's largest similarity to the picked ones, updated with each pick: O(n k)
  const closest = new Float64Array(n);
  const picked = new Uint8Array(n);
  const out: Scored[] = [];
  for (let step = 0; step < count; step++) {
    let best = -1;
    let bestValue = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      if (picked[i]) continue;
      const value = (1 - diversity) * relevance[i] - diversity * closest[i];
      // strictly greater: ties keep the earlier, better-scored candidate
      if (value > bestValue) {
        bestValue = value;
        best = i;
      }
    }
    picked[best] = 1;
    out.push(candidates[best]);
    for (let i = 0; i < n; i++) if (!picked[i]) closest[i] = Math.max(closest[i], similarity(i, best));
  }
  return out;
}

/** Genre sets as bits (MovieLens has 18 to 20 genres), one number per item. */
export function genreBits(genres: readonly (readonly string[])[]): { bits: Uint32Array; names: string[] } {
  const names: string[] = [];
  const at = new Map<string, number>();
  const bits = new Uint32Array(genres.length);
  genres.forEach((list, item) => {
    for (const g of list) {
      let b = at.get(g);
      if (b === undefined) {
        b = names.length;
        if (b >= 32) throw new Error(`more than 32 genres (at "${g}"): genre sets do not fit in 32 bits`);
        at.set(g, b);
        names.push(g);
      }
      bits[item] |= 1 << b;
    }
  });
  return { bits, names };
}

function popcount(v: number): number {
  let x = v - ((v >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Jaccard similarity of two genre sets (0 when either has none: nothing to say they are alike). */
export function genreSimilarity(a: number, b: number): number {
  const union = popcount(a | b);
  return union === 0 ? 0 : popcount(a & b) / union;
}

/** How many distinct genres a list covers. */
export function genresCovered(bits: Uint32Array, items: readonly number[]): number {
  let all = 0;
  for (const i of items) all |= bits[i];
  return popcount(all);
}
