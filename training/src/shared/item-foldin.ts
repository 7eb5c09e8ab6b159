// Item fold-in: a movie the model has no vector for (added to the live catalogue after training,
// or held out by bench:cold-items) is placed where its raters' tastes are, the mirror of folding a
// user in from its movies. Its neighbours are the model's movies its positive raters liked,
// counted, ranked by count / sqrt(popularity) (cosine-like, so blockbusters do not neighbour
// everything), the best `k` kept with weights proportional to their counts, summing to
// raters / (raters + shrink). Its score for anyone is the weighted sum of the model's scores of
// those neighbours, so any model that scores its own movies scores it too. Before any rating, a
// movie is placed by its genres instead: the most popular model movies sharing the most of its
// genres, with the weight of a single rater. Pure functions: the Worker (live catalogue) and
// training (bench:cold-items) run this same code; the bundle's fallback (export/catalogue.ts)
// is the same math applied at export.

/** A folded-in movie: model item indices and their weights (same length). */
export interface ItemNeighbours {
  neighbours: number[];
  weights: number[];
}

/** Neighbours a folded-in movie is scored from (as the bundle's fallback). */
export const ITEM_FOLDIN_NEIGHBOURS = 20;
/** Weights sum to raters / (raters + this): with few raters the neighbours' mean says little. */
export const ITEM_FOLDIN_SHRINK = 5;

/**
 * Every folded-in weight is multiplied by this. The neighbours' weighted mean scores a new movie
 * higher than a model retrained with it does (bench:cold-items: unscaled, ML-1M's held-out movies
 * took 8.8% of the valid top-10 places for 4.75% of the valid positives), so the weights are
 * scaled down to the value bench:cold-items chooses on valid, where the two shares meet
 * (docs/catalogue.md).
 */
export const ITEM_FOLDIN_SCALE = 0.925;

export interface ItemFoldInOptions {
  k?: number;
  shrink?: number;
  scale?: number;
}

/**
 * A movie's neighbours from its raters: `likedByRater` holds, per positive rater, the model
 * items that rater liked (duplicates within a rater are counted once); `popularity[i]` is how
 * many users liked model item i. No rater, or raters who liked nothing the model knows: no
 * neighbour (the caller falls back to genres).
 */
export function itemFoldIn(likedByRater: Iterable<ArrayLike<number>>, popularity: ArrayLike<number>, opts: ItemFoldInOptions = {}): ItemNeighbours {
  const k = opts.k ?? ITEM_FOLDIN_NEIGHBOURS;
  const shrink = opts.shrink ?? ITEM_FOLDIN_SHRINK;
  const counts = new Map<number, number>();
  let raters = 0;
  for (const liked of likedByRater) {
    raters++;
    const seen = new Set<number>();
    for (let j = 0; j < liked.length; j++) {
      const i = liked[j];
      if (i < 0 || i >= popularity.length || seen.has(i)) continue;
      seen.add(i);
      counts.set(i, (counts.get(i) ?? 0) + 1);
    }
  }
  const rank = (i: number): number => (counts.get(i) as number) / Math.sqrt(popularity[i] || 1);
  const best = [...counts.keys()].sort((a, b) => rank(b) - rank(a) || a - b).slice(0, k);
  const total = best.reduce((s, i) => s + (counts.get(i) as number), 0);
  if (total === 0) return { neighbours: [], weights: [] };
  const confidence = ((opts.scale ?? ITEM_FOLDIN_SCALE) * raters) / (raters + shrink);
  return { neighbours: best, weights: best.map((i) => (confidence * (counts.get(i) as number)) / total) };
}

/**
 * A movie's neighbours from its genres alone (before anyone rated it): the model movies sharing
 * the most of its genres, then the most popular, the best `k` with equal weights summing to the
 * confidence of one rater (1 / (1 + shrink)). No genre, or none the model's movies have: none.
 */
export function genreFoldIn(
  genres: readonly string[],
  itemGenres: readonly (readonly string[])[],
  popularity: ArrayLike<number>,
  opts: ItemFoldInOptions = {},
): ItemNeighbours {
  const k = opts.k ?? ITEM_FOLDIN_NEIGHBOURS;
  const shrink = opts.shrink ?? ITEM_FOLDIN_SHRINK;
  const wanted = new Set(genres.map((g) => g.toLowerCase()));
  if (wanted.size === 0) return { neighbours: [], weights: [] };
  const shared: { item: number; n: number }[] = [];
  for (let i = 0; i < itemGenres.length; i++) {
    let n = 0;
    for (const g of itemGenres[i]) if (wanted.has(g.toLowerCase())) n++;
    if (n > 0) shared.push({ item: i, n });
  }
  const best = shared
    .sort((a, b) => b.n - a.n || (popularity[b.item] ?? 0) - (popularity[a.item] ?? 0) || a.item - b.item)
    .slice(0, k)
    .map((s) => s.item);
  if (best.length === 0) return { neighbours: [], weights: [] };
  const w = (opts.scale ?? ITEM_FOLDIN_SCALE) / (1 + shrink) / best.length;
  return { neighbours: best, weights: best.map(() => w) };
}

/** The folded-in movie's score from the model's scores of its own items; null without neighbours. */
export function foldedScore(f: ItemNeighbours, modelScores: ArrayLike<number>): number | null {
  if (f.neighbours.length === 0) return null;
  let s = 0;
  for (let n = 0; n < f.neighbours.length; n++) s += f.weights[n] * modelScores[f.neighbours[n]];
  return s;
}
