// Who a recommendation request is for, and what to hide: a known user is ranked as a known user
// (by its trained vector, or its train history plus live positives, as the bundle says); anyone
// else with a positive the model knows is ranked by the model's fold-in; anyone else gets the
// cold-start list. Every movie in the snapshot and in the live history is excluded, including
// those the model has no vector for. The loaded model's one Ranker and one Explainer do the work.
import { ApiError } from "./errors.ts";
import type { LiveRating } from "./live-store.ts";
import type { LoadedModel } from "./model-store.ts";
import type { Scored } from "./scoring.ts";
import type { UserSnapshot } from "./user-store.ts";
import { isPositive } from "./validation.ts";
import { type ItemMask, hasRow } from "../../training/src/shared/item-mask.ts";
import { catalogueIndex } from "./rules/catalogue-index.ts";
import { MMR_POOL, diversify } from "./rules/diversity.ts";
import { type RecsFilter, filterMask, hasFilter } from "./rules/filter.ts";

/** A request's rules: which movies may come back (rules/filter.ts), and how diverse the list is (0..1). */
export interface RecsRules {
  filter?: RecsFilter;
  diversity?: number;
}

/** What ranking is given for a request's rules: the mask, and how many to rank before diversity picks k. */
interface Prepared {
  allowed: ItemMask | null;
  /** How many the ranker returns: k, or MMR's pool when the list is diversified. */
  depth: number;
  /** The ranked list cut to k (re-ranked by MMR when asked). */
  finish: (ranked: Scored[]) => Scored[];
}

/** Builds the request's mask once (an unknown genre is a 400 before anything is ranked). */
function prepare(model: LoadedModel, k: number, rules: RecsRules): Prepared {
  const diversity = rules.diversity ?? 0;
  const filtered = rules.filter !== undefined && hasFilter(rules.filter);
  if (!filtered && diversity <= 0) return { allowed: null, depth: k, finish: (r) => r };
  const index = catalogueIndex(model.movies);
  const allowed = filtered && rules.filter ? filterMask(index, model.itemIndex, rules.filter) : null;
  if (diversity <= 0) return { allowed, depth: k, finish: (r) => r };
  return { allowed, depth: Math.max(k, MMR_POOL), finish: (r) => diversify(index, r, k, diversity) };
}

type Source = "model" | "fold-in" | "popular";

export interface Ranked {
  source: Source;
  ranked: Scored[];
  /** The history the reasons are taken from (internal indices): the movies the user liked. */
  liked: number[];
  /**
   * History entries left out of scoring: movies the model has no vector for (outside its
   * catalogue, or served by the fallback only). They are still excluded from the list.
   */
  ignored: number;
}

/** Internal indices of the catalogue's movies among `ratings`, without duplicates (what is excluded). */
function itemsOf(model: LoadedModel, ratings: readonly { movieId: number }[]): number[] {
  const out = new Set<number>();
  for (const r of ratings) {
    const i = model.itemIndex.get(r.movieId);
    if (i !== undefined) out.add(i);
  }
  return [...out];
}

/** The model's own items among `ratings`: what a history graph can score from. */
const scorable = (model: LoadedModel, items: number[]): number[] => items.filter((i) => i < model.modelItems);

/** Entries the model cannot score from (see Ranked.ignored). */
function ignoredIn(model: LoadedModel, ratings: readonly { movieId: number }[]): number {
  let n = 0;
  for (const r of ratings) {
    const i = model.itemIndex.get(r.movieId);
    if (i === undefined || i >= model.modelItems) n++;
  }
  return n;
}

/**
 * The cold-start answer: the bundle's popular list (the most liked movies of the data's last
 * weeks), minus every movie the user rated; the score is the list's rank, best first.
 */
function popularFor(model: LoadedModel, exclude: readonly number[], ignored: number, p: Prepared): Ranked {
  const seen = new Set(exclude);
  const { allowed } = p;
  const order = model.popular.filter((i) => !seen.has(i) && (!allowed || hasRow(allowed, i)));
  // a filter may leave fewer than k of the list: the rest of what passes follows, most rated first
  if (allowed && order.length < p.depth) {
    const listed = new Set(model.popular);
    const popularity = model.search().popularity;
    const rest: number[] = [];
    for (let i = 0; i < model.movies.length; i++) if (hasRow(allowed, i) && !seen.has(i) && !listed.has(i)) rest.push(i);
    rest.sort((a, b) => popularity[b] - popularity[a] || a - b);
    order.push(...rest);
  }
  const ranked = order.slice(0, p.depth).map((item, r) => ({ item, score: 1 / (r + 1) }));
  return { source: "popular", ranked: p.finish(ranked), liked: [], ignored };
}

/**
 * The history in time order, oldest first, as fold-in reads it (a model may weigh recent entries
 * more): by timestamp, an entry without one counting as now; entries of the same time keep the
 * order they came in (the sort is stable).
 */
export function oldestFirst<T extends { timestamp?: number | null }>(history: readonly T[]): T[] {
  return history
    .map((r, at) => ({ r, at, t: r.timestamp ?? Number.POSITIVE_INFINITY }))
    .sort((a, b) => a.t - b.t || a.at - b.at)
    .map(({ r }) => r);
}

/**
 * Ranks for a history alone (an anonymous visitor, or a user the model does not know). Movies
 * outside the model's catalogue count as watched (never recommended back) and are left out of
 * scoring; a history with no positive the model can score from gets the cold-start list. Low
 * ratings exclude their movies; no served model scores negatives, so that is all they do. The
 * positives go to fold-in oldest first (see oldestFirst).
 */
export async function rankHistory(
  model: LoadedModel,
  history: readonly { movieId: number; rating: number | null; timestamp?: number | null }[],
  k: number,
  what: string,
  rules: RecsRules = {},
): Promise<Ranked> {
  const p = prepare(model, k, rules);
  const exclude = itemsOf(model, history);
  const ignored = ignoredIn(model, history);
  const positives = scorable(model, itemsOf(model, oldestFirst(history.filter((r) => isPositive(r.rating)))));
  if (positives.length === 0) return popularFor(model, exclude, ignored, p);
  if (!model.ranker.foldsIn) {
    throw new ApiError(
      404,
      "no_foldin",
      `${what}: the served model (${model.manifest.model}) has no fold-in graph, so it can only recommend for users it was trained on`,
    );
  }
  const ranked = await model.ranker.rankHistory(positives, p.depth, exclude, p.allowed);
  return { source: "fold-in", ranked: p.finish(ranked), liked: positives, ignored };
}

/**
 * Ranks for a user id, given what the caller read: the user's snapshot (`model.users.get`, null
 * for a user the model was not trained on) and the live ratings, null when the live store could
 * not be read: a known user is then ranked from the snapshot alone (the caller says so in a
 * header). A user the model never saw, with no live ratings, gets the cold-start list.
 */
export async function rankUser(
  model: LoadedModel,
  userId: number,
  user: UserSnapshot | null,
  live: LiveRating[] | null,
  k: number,
  rules: RecsRules = {},
): Promise<Ranked> {
  if (user) {
    const p = prepare(model, k, rules);
    const snapshot = Array.from(user.rated);
    const exclude = new Set<number>(snapshot);
    for (const i of itemsOf(model, live ?? [])) exclude.add(i);
    const livePositive = (live ?? []).filter((r) => isPositive(r.rating));
    // the snapshot keeps no ratings, only what was rated: every snapshot movie may be a reason
    const livePositives = itemsOf(model, livePositive);
    const liked = new Set<number>([...snapshot, ...livePositives]);
    const ranked = await model.ranker.rankUser(user, p.depth, [...exclude], scorable(model, livePositives), p.allowed);
    return { source: "model", ranked: p.finish(ranked), liked: [...liked], ignored: ignoredIn(model, live ?? []) };
  }
  if (live === null)
    throw new ApiError(503, "live_store_unavailable", `user ${userId} is not in the model and the live ratings store (D1) cannot be read right now`);
  return rankHistory(model, live, k, `user ${userId}`, rules);
}

/**
 * The JSON of a ranked list: each movie's metadata, score and `because`, the liked movie it is
 * most similar to by the model's item embeddings (null when the bundle cannot say).
 */
export async function recommendationList(model: LoadedModel, { ranked, liked }: Ranked): Promise<object[]> {
  const reasons = await model.explainer.explain(
    ranked.map((r) => r.item),
    liked,
  );
  return ranked.map(({ item, score }, k) => {
    const reason = reasons?.[k];
    const movie = reason ? model.movies[liked[reason.position]] : null;
    return { ...model.movies[item], score, because: movie && reason ? { movieId: movie.movieId, title: movie.title, similarity: reason.similarity } : null };
  });
}
