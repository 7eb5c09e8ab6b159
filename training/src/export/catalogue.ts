// What a bundle serves beside the model that the split's interactions do not hold: every rated
// movie of the data (the split's items first, then those outside the protocol's filters, with
// the fallback that scores them), every movie each split user rated (any rating, so the Worker
// never recommends a movie the user has seen), and the cold-start list. Built once from the
// parsed dataset at prepare, written to artifacts/split/ with the split, so export never needs
// the raw data.
import type { FallbackFile, MovieMeta, PopularFile } from "../contract/artifacts.ts";
import type { Dataset } from "../data/parse.ts";
import { type Csr, csrFromTriples, rowOf } from "../protocol/csr.ts";
import { type Split, protocolSpec } from "../protocol/protocols.ts";

export interface Catalogue {
  /**
   * Every served movie in internal order: the split's items (ascending id, the model's indices
   * 0..split items - 1), then the rated movies outside the split (ascending id).
   */
  movies: MovieMeta[];
  /** Internal user x internal item (over every served movie): every movie each split user rated, any rating. */
  rated: Csr;
  /** How the movies after the split's items are scored. */
  fallback: FallbackFile;
  popular: PopularFile;
}

/** Neighbours a fallback movie is scored from. */
export const FALLBACK_NEIGHBOURS = 20;
/**
 * A fallback movie's score is shrunk by raters / (raters + this): with few raters the mean of
 * its neighbours says little. Unshrunk, on ML-100K's later ratings (bench:replay), fallback
 * movies took 1,368 of the blend's 49,450 top-10 places for 4 hits, costing HR@10 0.0012.
 */
export const FALLBACK_SHRINK = 5;
/** The cold-start list's window, and how many movies it keeps. */
export const POPULAR_WINDOW_DAYS = 30;
export const POPULAR_MOVIES = 200;

export function catalogueOf(data: Dataset, split: Split): Catalogue {
  const r = data.ratings;
  const movieById = new Map(data.movies.map((m) => [m.movieId, m]));
  const trained = split.itemIds.length;
  const itemIndex = new Map(Array.from(split.itemIds, (id, i) => [id, i]));
  // the rated movies outside the split, ascending id, after the split's own
  const extraIds = [...new Set(Array.from(r.item).filter((id) => !itemIndex.has(id)))].sort((a, b) => a - b);
  for (const [e, id] of extraIds.entries()) itemIndex.set(id, trained + e);
  const ids = [...split.itemIds, ...extraIds];
  const movies: MovieMeta[] = ids.map((id) => {
    const m = movieById.get(id);
    return { movieId: id, title: m?.title ?? `Movie ${id}`, year: m?.year ?? null, genres: m?.genres ?? [] };
  });
  const userIndex = new Map(Array.from(split.userIds, (id, i) => [id, i]));
  const rows = new Int32Array(r.length);
  const cols = new Int32Array(r.length);
  let n = 0;
  for (let k = 0; k < r.length; k++) {
    const u = userIndex.get(r.user[k]);
    const i = itemIndex.get(r.item[k]);
    if (u === undefined || i === undefined) continue;
    rows[n] = u;
    cols[n++] = i;
  }
  const rated = csrFromTriples(split.userIds.length, ids.length, rows.subarray(0, n), cols.subarray(0, n));
  const positive = (k: number): boolean => data.implicit === true || r.rating[k] >= protocolSpec(split.protocol).minRating;
  return {
    movies,
    rated,
    fallback: fallbackOf(data, split, itemIndex, extraIds.length, positive),
    popular: popularOf(data, itemIndex, ids, positive),
  };
}

/**
 * The fallback of each movie outside the split: its positive raters' liked split movies, counted
 * (a split user contributes its train items only, so no held-out movie leaks into serving; a
 * user outside the split its positives among the split's movies), ranked by count / sqrt(the
 * movie's train popularity) (cosine-like, so blockbusters do not neighbour everything), the
 * best FALLBACK_NEIGHBOURS kept with weights proportional to their counts (summing to
 * raters / (raters + FALLBACK_SHRINK)). Scoring such a movie
 * by the weighted mean of its neighbours' scores is item fold-in: the movie placed where its
 * raters' tastes are, the mirror of folding a user in from its movies.
 */
function fallbackOf(data: Dataset, split: Split, itemIndex: Map<number, number>, extras: number, positive: (k: number) => boolean): FallbackFile {
  const k = FALLBACK_NEIGHBOURS;
  const trained = split.itemIds.length;
  const out: FallbackFile = { k, neighbours: new Array(extras * k).fill(0), weights: new Array(extras * k).fill(0) };
  if (extras === 0) return out;
  const r = data.ratings;
  const splitUser = new Map(Array.from(split.userIds, (id, i) => [id, i]));
  // each user's liked split movies: train items for split users, positives for the others
  const liked = new Map<number, number[]>();
  const ratersOf: number[][] = Array.from({ length: extras }, () => []);
  for (let p = 0; p < r.length; p++) {
    if (!positive(p)) continue;
    const i = itemIndex.get(r.item[p]);
    if (i === undefined) continue;
    if (i >= trained) ratersOf[i - trained].push(r.user[p]);
    else if (!splitUser.has(r.user[p])) {
      const list = liked.get(r.user[p]);
      if (list) list.push(i);
      else liked.set(r.user[p], [i]);
    }
  }
  const popularity = new Float64Array(trained);
  for (const i of split.train.indices) popularity[i]++;
  const counts = new Float64Array(trained);
  for (let e = 0; e < extras; e++) {
    counts.fill(0);
    const touched: number[] = [];
    for (const user of ratersOf[e]) {
      const u = splitUser.get(user);
      const items = u !== undefined ? rowOf(split.train, u) : (liked.get(user) ?? []);
      for (const i of items) if (counts[i]++ === 0) touched.push(i);
    }
    const best = touched.sort((a, b) => counts[b] / Math.sqrt(popularity[b] || 1) - counts[a] / Math.sqrt(popularity[a] || 1) || a - b).slice(0, k);
    const total = best.reduce((s, i) => s + counts[i], 0);
    // shrunk toward 0 (a movie unrelated to the history) by how few raters vouch for it
    const raters = ratersOf[e].length;
    const confidence = raters / (raters + FALLBACK_SHRINK);
    best.forEach((i, slot) => {
      out.neighbours[e * k + slot] = i;
      out.weights[e * k + slot] = (confidence * counts[i]) / total;
    });
  }
  return out;
}

/**
 * The cold-start list: positive ratings per served movie in the data's last POPULAR_WINDOW_DAYS
 * days, ties (and the rest of the list) by all-time positives, at most POPULAR_MOVIES movies.
 */
function popularOf(data: Dataset, itemIndex: Map<number, number>, ids: number[], positive: (k: number) => boolean): PopularFile {
  const r = data.ratings;
  let last = 0;
  for (let p = 0; p < r.length; p++) last = Math.max(last, r.timestamp[p]);
  const from = last > 0 ? last - POPULAR_WINDOW_DAYS * 86400 : 0;
  const recent = new Float64Array(ids.length);
  const allTime = new Float64Array(ids.length);
  for (let p = 0; p < r.length; p++) {
    if (!positive(p)) continue;
    const i = itemIndex.get(r.item[p]);
    if (i === undefined) continue;
    allTime[i]++;
    if (r.timestamp[p] >= from) recent[i]++;
  }
  const order = Array.from(ids.keys())
    .filter((i) => allTime[i] > 0)
    .sort((a, b) => recent[b] - recent[a] || allTime[b] - allTime[a] || a - b)
    .slice(0, POPULAR_MOVIES);
  const iso = (t: number): string => new Date(t * 1000).toISOString().slice(0, 10);
  return {
    window_days: POPULAR_WINDOW_DAYS,
    from: last > 0 ? iso(from) : null,
    to: last > 0 ? iso(last) : null,
    movies: order.map((i) => ({ movieId: ids[i], ratings: recent[i] })),
  };
}
