// Who a recommendation request is for, and what to hide: a known user is ranked as a known user
// (by its trained vector, or its train history plus live positives, as the bundle says); anyone
// else with positive history is ranked by the model's fold-in. Every movie in the snapshot and
// in the live history is excluded. The loaded model's one Ranker and one Explainer do the work.
import { ApiError } from "./errors.ts";
import type { LiveRating } from "./live-store.ts";
import type { LoadedModel } from "./model-store.ts";
import type { Scored } from "./scoring.ts";
import type { UserSnapshot } from "./user-store.ts";
import { isPositive } from "./validation.ts";

type Source = "model" | "fold-in";

export interface Ranked {
  source: Source;
  ranked: Scored[];
  /** The history the reasons are taken from (internal indices): the movies the user liked. */
  liked: number[];
}

/** Internal indices of the movies the model knows, without duplicates. */
function itemsOf(model: LoadedModel, ratings: readonly { movieId: number }[]): number[] {
  const out = new Set<number>();
  for (const r of ratings) {
    const i = model.itemIndex.get(r.movieId);
    if (i !== undefined) out.add(i);
  }
  return [...out];
}

/** Ranks for a history alone (an anonymous visitor, or a user the model does not know). */
export async function rankHistory(
  model: LoadedModel,
  history: readonly { movieId: number; rating: number | null }[],
  k: number,
  what: string,
): Promise<Ranked> {
  if (!model.ranker.foldsIn) {
    throw new ApiError(
      404,
      "no_foldin",
      `${what}: the served model (${model.manifest.model}) has no fold-in graph, so it can only recommend for users it was trained on`,
    );
  }
  const positives = itemsOf(
    model,
    history.filter((r) => isPositive(r.rating)),
  );
  if (positives.length === 0) {
    throw new ApiError(404, "no_positive_history", `${what} has no positive ratings (3 or more, or no rating for "watched") to recommend from`);
  }
  return { source: "fold-in", ranked: await model.ranker.rankHistory(positives, k, itemsOf(model, history)), liked: positives };
}

/**
 * Ranks for a user id, given what the caller read: the user's snapshot (`model.users.get`, null
 * for a user the model was not trained on) and the live ratings, null when the live store could
 * not be read: a known user is then ranked from the snapshot alone (the caller says so in a header).
 */
export async function rankUser(model: LoadedModel, userId: number, user: UserSnapshot | null, live: LiveRating[] | null, k: number): Promise<Ranked> {
  if (user) {
    const snapshot = Array.from(user.rated);
    const exclude = new Set<number>(snapshot);
    for (const i of itemsOf(model, live ?? [])) exclude.add(i);
    // the snapshot keeps no ratings, only what was rated: every snapshot movie may be a reason
    const livePositives = itemsOf(
      model,
      (live ?? []).filter((r) => isPositive(r.rating)),
    );
    const liked = new Set<number>([...snapshot, ...livePositives]);
    return { source: "model", ranked: await model.ranker.rankUser(user, k, [...exclude], livePositives), liked: [...liked] };
  }
  if (live === null)
    throw new ApiError(503, "live_store_unavailable", `user ${userId} is not in the model and the live ratings store (D1) cannot be read right now`);
  if (live.length === 0) {
    throw new ApiError(
      404,
      "unknown_user",
      `user ${userId} is not in the model (${model.manifest.users} users) and has no live ratings: POST /users/${userId}/ratings first`,
    );
  }
  return rankHistory(model, live, k, `user ${userId}`);
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
