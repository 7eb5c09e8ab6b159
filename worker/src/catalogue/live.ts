// The live catalogue as a request sees it: D1's movies, and for each one the served bundle does
// not have, how it is scored: by item fold-in from its raters' live ratings (their other liked
// movies, in D1 and, for users the bundle knows, in their snapshot), or from its genres before
// anyone rated it (training/src/shared/item-foldin.ts, the code bench:cold-items measures).
// Read once per isolate and model per CATALOGUE_REFRESH_SECONDS (default 30), so a request pays
// nothing for it most of the time; a new movie or rating shows within that interval.
import type { MovieMeta } from "../../../training/src/contract/artifacts.ts";
import { type ItemNeighbours, genreFoldIn, itemFoldIn } from "../../../training/src/shared/item-foldin.ts";
import type { Env } from "../env.ts";
import { log } from "../log.ts";
import type { LoadedModel } from "../model-store.ts";
import { type CatalogueMovie, catalogueMovies, ratersLiked } from "./store.ts";

/** A live movie the bundle does not have, and how it is scored. */
export interface FoldedMovie {
  movie: CatalogueMovie;
  /** "raters": item fold-in; "genres": no rater yet; "none": neither (never recommended). */
  from: "raters" | "genres" | "none";
  /** Positive raters read (at most MAX_RATERS). */
  raters: number;
  neighbours: ItemNeighbours;
}

export interface LiveCatalogue {
  movies: CatalogueMovie[];
  byId: Map<number, CatalogueMovie>;
  /** The live movies outside the bundle, by id. */
  folded: FoldedMovie[];
}

const DEFAULT_REFRESH_SECONDS = 30;

export const EMPTY_CATALOGUE: LiveCatalogue = { movies: [], byId: new Map(), folded: [] };

const cached = new WeakMap<LoadedModel, { at: number; generation: number; value: Promise<LiveCatalogue> }>();
/** Bumped by a catalogue write in this isolate: every cached copy is stale. */
let generation = 0;

export function toMeta(m: CatalogueMovie): MovieMeta {
  return { movieId: m.movieId, title: m.title, year: m.year, genres: m.genres };
}

/** Every model item a user liked, by user (D1's live positives, plus the bundle's snapshot). */
async function likedByRater(model: LoadedModel, rows: { movie: number; user: number; liked: number | null }[]): Promise<Map<number, Map<number, number[]>>> {
  const out = new Map<number, Map<number, number[]>>();
  for (const r of rows) {
    const users = out.get(r.movie) ?? new Map<number, number[]>();
    out.set(r.movie, users);
    const liked = users.get(r.user) ?? [];
    users.set(r.user, liked);
    const i = r.liked === null ? undefined : model.itemIndex.get(r.liked);
    if (i !== undefined && i < model.modelItems) liked.push(i);
  }
  // raters the bundle knows liked movies before training too: their train history (or, for
  // bundles that keep none, every movie they rated), when it is in the isolate's memory; a store in
  // R2 or D1 is not read here (a round trip per rater)
  if (model.users.kind === "bundle") {
    for (const users of out.values())
      for (const [user, liked] of users) {
        const snapshot = await model.users.get(user);
        const movies = snapshot?.history ?? snapshot?.rated;
        if (movies) for (let p = 0; p < movies.length; p++) if (movies[p] < model.modelItems) liked.push(movies[p]);
      }
  }
  return out;
}

async function read(db: D1Database, model: LoadedModel): Promise<LiveCatalogue> {
  const movies = await catalogueMovies(db);
  if (movies.length === 0) return EMPTY_CATALOGUE;
  const outside = movies.filter((m) => !model.itemIndex.has(m.movieId));
  const liked = await likedByRater(
    model,
    await ratersLiked(
      db,
      outside.map((m) => m.movieId),
    ),
  );
  const popularity = model.search().popularity.subarray(0, model.modelItems);
  const genres = model.movies.slice(0, model.modelItems).map((m) => m.genres);
  const folded = outside.map((movie): FoldedMovie => {
    const raters = liked.get(movie.movieId);
    const byRaters = raters ? itemFoldIn(raters.values(), popularity) : { neighbours: [], weights: [] };
    if (byRaters.neighbours.length > 0) return { movie, from: "raters", raters: raters?.size ?? 0, neighbours: byRaters };
    const byGenres = genreFoldIn(movie.genres, genres, popularity);
    return { movie, from: byGenres.neighbours.length > 0 ? "genres" : "none", raters: raters?.size ?? 0, neighbours: byGenres };
  });
  return { movies, byId: new Map(movies.map((m) => [m.movieId, m])), folded };
}

/**
 * The live catalogue for this model, from the isolate's copy while it is fresh. Never fails: when
 * D1 cannot be read (down, or migration 0007 not applied yet) it warns and answers the last copy,
 * or none (the bundle alone), and keeps that answer for the refresh interval, so a missing table
 * costs one read per interval, not one per request.
 */
export function liveCatalogue(env: Pick<Env, "DB"> & { CATALOGUE_REFRESH_SECONDS?: string }, model: LoadedModel): Promise<LiveCatalogue> {
  const refreshMs = 1000 * Number(env.CATALOGUE_REFRESH_SECONDS ?? DEFAULT_REFRESH_SECONDS);
  const now = Date.now();
  const hit = cached.get(model);
  if (hit && hit.generation === generation && now - hit.at < refreshMs) return hit.value;
  const value = read(env.DB, model).catch((err: unknown) => {
    log.warn("live catalogue unavailable (D1); answering from the last copy or the bundle alone", err);
    // (a cached value never rejects: this catch is on every one)
    return hit ? hit.value : EMPTY_CATALOGUE;
  });
  cached.set(model, { at: now, generation, value });
  return value;
}

/** Forgets this isolate's copies (after POST /admin/movies: the writer sees its write at once). */
export function invalidateCatalogue(): void {
  generation++;
}
