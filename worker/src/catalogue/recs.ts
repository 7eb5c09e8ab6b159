// Live movies in a recommendation list, and dismissals. A live movie the bundle does not have is
// scored as the weighted sum of the model's scores of its neighbours (item fold-in; see live.ts),
// which needs the model's score of every movie for this request: one more ranking over the whole
// catalogue, run only when the live catalogue holds such a movie the user has not rated. The
// bundle's list is never changed, only merged with the live movies that score above its last
// entry, so a live movie can never break a served bundle: an id outside it has no index to break.
import { foldedScore } from "../../../training/src/shared/item-foldin.ts";
import type { LoadedModel } from "../model-store.ts";
import type { Ranked } from "../recommendations.ts";
import type { RecsFilter } from "../rules/filter.ts";
import type { UserSnapshot } from "../user-store.ts";
import { isPositive } from "../validation.ts";
import type { LiveCatalogue } from "./live.ts";

/** A recommendation as recommendationList answers it. */
interface Listed {
  movieId: number;
  score: number;
}

/** Who the list is for: a known user's snapshot (null: ranked from the history alone) and what they rated. */
export interface ListFor {
  user: UserSnapshot | null;
  history: readonly { movieId: number; rating: number | null }[];
}

/** Whether a live movie passes the request's filters (the same rules the ranking mask applies to the bundle's movies). */
export function passesFilter(movie: { movieId: number; year: number | null; genres: readonly string[] }, f: RecsFilter): boolean {
  const genres = new Set(movie.genres.map((g) => g.toLowerCase()));
  if (f.genres && f.genres.length > 0 && !f.genres.some((g) => genres.has(g.trim().toLowerCase()))) return false;
  if (f.excludeGenres?.some((g) => genres.has(g.trim().toLowerCase()))) return false;
  if ((f.yearMin !== undefined || f.yearMax !== undefined) && movie.year === null) return false;
  if (f.yearMin !== undefined && (movie.year as number) < f.yearMin) return false;
  if (f.yearMax !== undefined && (movie.year as number) > f.yearMax) return false;
  if (f.exclude?.includes(movie.movieId)) return false;
  if (f.include !== undefined && !f.include.includes(movie.movieId)) return false;
  return true;
}

/** The model's score of every movie it serves, for the same user or history as the list. */
async function everyScore(model: LoadedModel, ranked: Ranked, who: ListFor): Promise<Float32Array> {
  const all = model.movies.length;
  const positives = new Set<number>();
  for (const r of who.history) {
    const i = model.itemIndex.get(r.movieId);
    if (i !== undefined && i < model.modelItems && isPositive(r.rating)) positives.add(i);
  }
  const scored = who.user ? await model.ranker.rankUser(who.user, all, [], [...positives]) : await model.ranker.rankHistory(ranked.liked, all, []);
  const out = new Float32Array(all).fill(Number.NEGATIVE_INFINITY);
  for (const { item, score } of scored) out[item] = score;
  return out;
}

/**
 * The list with the live movies merged in by score (best k kept), each live movie with its
 * metadata and `because: null`; never a movie the user rated or dismissed. The cold-start list
 * has no scores to place them by and is returned as it is.
 */
export async function withLiveMovies(
  model: LoadedModel,
  catalogue: LiveCatalogue,
  ranked: Ranked,
  answered: object[],
  who: ListFor,
  k: number,
  rules: { filter?: RecsFilter; diversity?: number } = {},
): Promise<object[]> {
  // recommendationList's entries: the movie's metadata, score and because
  const list = answered as (Listed & Record<string, unknown>)[];
  // a diversified list is ordered by marginal relevance, not score: merging by score would undo
  // it, so live movies join undiversified lists only (docs/catalogue.md)
  if (ranked.source === "popular" || catalogue.folded.length === 0 || (rules.diversity ?? 0) > 0) return list;
  const seen = new Set(who.history.map((r) => r.movieId));
  const candidates = catalogue.folded.filter(
    (f) => f.from !== "none" && !seen.has(f.movie.movieId) && (rules.filter === undefined || passesFilter(f.movie, rules.filter)),
  );
  if (candidates.length === 0) return list;
  const scores = await everyScore(model, ranked, who);
  const floor = list.length >= k ? list[list.length - 1].score : Number.NEGATIVE_INFINITY;
  const live: (Listed & Record<string, unknown>)[] = [];
  for (const f of candidates) {
    const score = foldedScore(f.neighbours, scores);
    if (score === null || !Number.isFinite(score) || score <= floor) continue;
    const { movieId, title, year, genres } = f.movie;
    live.push({ movieId, title, year, genres, score, because: null });
  }
  if (live.length === 0) return list;
  return [...list, ...live].sort((a, b) => b.score - a.score).slice(0, k);
}
