// The candidate's training data: the protocol's original split (artifacts/split) with every
// forgotten user taken out of it, plus the live ratings recorded since, except the most recent
// ones, which are held out as the second check. A forgotten user leaves no trace: none of their
// original rows, and none of their live ratings up to the deletion, reach any matrix (a user who
// rated again after being forgotten is a new user, with only those ratings).
import type { Catalogue } from "../export/catalogue.ts";
import { type Csr, csrFromTriples, rowOf } from "../protocol/csr.ts";
import { type Split, protocolSpec } from "../protocol/protocols.ts";
import type { ForgottenUser, LiveMovie, LiveRating } from "./live-data.ts";

/** Users to rank, each with what is excluded (already known) and what should come up, by original ids. */
export interface EvalSet {
  users: { user: number; mask: number[]; target: number[] }[];
}

export interface DataWindow {
  /** ISO time of the oldest and newest live rating used (trained on or held out); null: none. */
  from: string | null;
  to: string | null;
  /** ISO time from which live ratings were held out as the recent check (null: none held out). */
  recent_from: string | null;
}

export interface Merged {
  split: Split;
  catalogue: Catalogue;
  /** The protocol's test split, minus forgotten users: both models are scored on it. */
  holdout: EvalSet;
  /** The most recent live positives, never trained on: both models are scored on them too. */
  recent: EvalSet;
  window: DataWindow;
  counts: {
    live_ratings: number;
    deleted_users: number;
    /** Live positives added to the candidate's train. */
    live_trained: number;
    live_recent: number;
    /** Live ratings left out: a forgotten user's before the deletion, an unknown movie, a pair already in the test or valid split. */
    live_skipped: number;
    /** Movies of the live catalogue the candidate trains on (new to the model, with a live positive). */
    live_movies: number;
    users_removed: number;
  };
}

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString();

function add(into: Map<number, Set<number>>, user: number, item: number): void {
  const set = into.get(user);
  if (set) set.add(item);
  else into.set(user, new Set([item]));
}

/** Pairs of original ids of a matrix, by user id; `itemIds` names the matrix's columns. */
function pairsByUser(m: Csr, split: Split, into: Map<number, Set<number>>, skip: (user: number) => boolean, itemIds: ArrayLike<number> = split.itemIds): void {
  for (let u = 0; u < m.rows; u++) {
    const id = split.userIds[u];
    if (skip(id)) continue;
    for (const i of rowOf(m, u)) add(into, id, itemIds[i]);
  }
}

function csrOf(byUser: Map<number, Set<number>>, userIndex: Map<number, number>, itemIndex: Map<number, number>, rows: number, cols: number): Csr {
  const r: number[] = [];
  const c: number[] = [];
  for (const [user, items] of byUser) {
    const u = userIndex.get(user);
    if (u === undefined) continue;
    for (const item of items) {
      r.push(u);
      c.push(itemIndex.get(item) as number);
    }
  }
  return csrFromTriples(rows, cols, r, c);
}

export interface MergeOptions {
  /** Share of the live positives, the most recent, held out from training as the second check (0..0.9). */
  recentShare: number;
}

/**
 * `movies`: the live catalogue (POST /admin/movies). Each movie the served catalogue does not
 * have that a kept live rating likes joins the model's items (ids stay ascending, so the
 * catalogue's later movies, their fallback and rated.bin are renumbered by id).
 */
export function mergeLive(
  base: { split: Split; catalogue: Catalogue },
  live: LiveRating[],
  forgotten: ForgottenUser[],
  opts: MergeOptions,
  movies: readonly LiveMovie[] = [],
): Merged {
  const minRating = protocolSpec(base.split.protocol).minRating;
  const forgottenAt = new Map(forgotten.map((f) => [f.user, f.forgottenAt]));
  const added = addedMovies(base, live, forgottenAt, movies, minRating);
  const split: Split =
    added.length === 0 ? base.split : { ...base.split, itemIds: Int32Array.from([...base.split.itemIds, ...added.map((m) => m.movieId)]).sort() };
  const knownItems = new Set(split.itemIds);
  const gone = (user: number): boolean => forgottenAt.has(user);

  const train = new Map<number, Set<number>>();
  const valid = new Map<number, Set<number>>();
  const test = new Map<number, Set<number>>();
  const rated = new Map<number, Set<number>>();
  pairsByUser(base.split.train, base.split, train, gone);
  if (base.split.valid) pairsByUser(base.split.valid, base.split, valid, gone);
  pairsByUser(base.split.test, base.split, test, gone);
  // rated.bin's columns are the whole served catalogue: the split's items, then every other rated movie
  const baseIds = base.catalogue.movies.map((m) => m.movieId);
  pairsByUser(base.catalogue.rated, base.split, rated, gone, baseIds);
  const catalogueIds = [...split.itemIds, ...baseIds.slice(base.split.itemIds.length)];
  const removed = base.split.userIds.filter((id) => gone(id)).length;

  const heldPairs = (user: number, item: number): boolean => Boolean(valid.get(user)?.has(item) || test.get(user)?.has(item));
  // what is left after the forgetting: a deletion erases everything rated up to it
  let skipped = 0;
  const kept = live.filter((r) => {
    const ok = !(forgottenAt.has(r.user) && r.ratedAt <= (forgottenAt.get(r.user) as number)) && knownItems.has(r.movie) && !heldPairs(r.user, r.movie);
    if (!ok) skipped++;
    return ok;
  });
  const positives = kept.filter((r) => r.rating === null || r.rating >= minRating).sort((a, b) => a.ratedAt - b.ratedAt);
  const nRecent = positives.length === 0 ? 0 : Math.round(positives.length * Math.min(0.9, Math.max(0, opts.recentShare)));
  const older = positives.slice(0, positives.length - nRecent);
  const newest = positives.slice(positives.length - nRecent);
  for (const r of older) add(train, r.user, r.movie);
  // a live rating of any value says the user has seen the movie (serving excludes it)
  const heldOutNow = new Set(newest);
  for (const r of kept) if (!heldOutNow.has(r)) add(rated, r.user, r.movie);

  // the users are those with something to train on; ids ascending, as the pipeline numbers them
  const userIds = Int32Array.from(train.keys()).sort();
  const userIndex = new Map(Array.from(userIds, (id, i) => [id, i]));
  const itemIndex = new Map(Array.from(split.itemIds, (id, i) => [id, i]));
  const rows = userIds.length;
  const cols = split.itemIds.length;
  const merged: Split = {
    ...split,
    userIds,
    train: csrOf(train, userIndex, itemIndex, rows, cols),
    valid: split.valid ? csrOf(valid, userIndex, itemIndex, rows, cols) : null,
    test: csrOf(test, userIndex, itemIndex, rows, cols),
    counts: { ...split.counts },
  };
  const nnzOf = (m: Csr | null): number => (m ? m.indptr[m.rows] : 0);
  merged.counts = {
    users: rows,
    items: cols,
    train: nnzOf(merged.train),
    valid: nnzOf(merged.valid),
    test: nnzOf(merged.test),
    interactions: nnzOf(merged.train) + nnzOf(merged.valid) + nnzOf(merged.test),
  };
  // rated.bin must cover every train pair (the Worker excludes what a user has seen)
  for (const [user, items] of train) for (const item of items) add(rated, user, item);
  const catalogueIndex = new Map(catalogueIds.map((id, i) => [id, i]));
  // the served catalogue, its fallback and cold-start list are the base's, plus the live movies
  // trained on (among the model's own, by id): the fallback's neighbours are renumbered to match
  const catalogue: Catalogue = {
    ...base.catalogue,
    movies: added.length === 0 ? base.catalogue.movies : catalogueMovies(base.catalogue, catalogueIds, added),
    fallback:
      added.length === 0
        ? base.catalogue.fallback
        : { ...base.catalogue.fallback, neighbours: base.catalogue.fallback.neighbours.map((i) => itemIndex.get(base.split.itemIds[i]) as number) },
    rated: csrOf(rated, userIndex, catalogueIndex, rows, catalogueIds.length),
  };

  const known = (user: number): number[] => [...(train.get(user) ?? []), ...(valid.get(user) ?? [])];
  const holdout: EvalSet = {
    users: [...test.entries()].filter(([user]) => userIndex.has(user)).map(([user, items]) => ({ user, mask: known(user), target: [...items] })),
  };
  const recentByUser = new Map<number, Set<number>>();
  for (const r of newest) if (userIndex.has(r.user)) add(recentByUser, r.user, r.movie);
  const recent: EvalSet = {
    users: [...recentByUser.entries()].map(([user, items]) => {
      const mask = new Set([...known(user), ...(test.get(user) ?? [])]);
      return { user, mask: [...mask], target: [...items].filter((i) => !mask.has(i)) };
    }),
  };
  recent.users = recent.users.filter((u) => u.target.length > 0);
  const used = kept.map((r) => r.ratedAt);
  return {
    split: merged,
    catalogue,
    holdout,
    recent,
    window: {
      from: used.length ? iso(used.reduce((a, b) => Math.min(a, b))) : null,
      to: used.length ? iso(used.reduce((a, b) => Math.max(a, b))) : null,
      recent_from: newest.length ? iso(newest[0].ratedAt) : null,
    },
    counts: {
      live_ratings: live.length,
      deleted_users: forgotten.length,
      live_trained: older.length,
      live_recent: newest.length,
      live_skipped: skipped,
      live_movies: added.length,
      users_removed: removed,
    },
  };
}

/**
 * The live catalogue's movies the candidate trains on: not served yet, and liked by a live rating
 * that survives the forgetting.
 */
function addedMovies(
  base: { split: Split; catalogue: Catalogue },
  live: LiveRating[],
  forgottenAt: Map<number, number>,
  movies: readonly LiveMovie[],
  minRating: number,
): LiveMovie[] {
  const served = new Set(base.catalogue.movies.map((m) => m.movieId));
  const liked = new Set<number>();
  for (const r of live) {
    if (forgottenAt.has(r.user) && r.ratedAt <= (forgottenAt.get(r.user) as number)) continue;
    if (r.rating === null || r.rating >= minRating) liked.add(r.movie);
  }
  return movies.filter((m) => !served.has(m.movieId) && liked.has(m.movieId)).sort((a, b) => a.movieId - b.movieId);
}

/** The served catalogue in the merged order: the model's items (ids ascending), then the base's later movies. */
function catalogueMovies(base: Catalogue, ids: readonly number[], added: readonly LiveMovie[]): Catalogue["movies"] {
  const byId = new Map(base.movies.map((m) => [m.movieId, m]));
  for (const m of added) byId.set(m.movieId, { movieId: m.movieId, title: m.title, year: m.year, genres: m.genres });
  return ids.map((id) => byId.get(id) as Catalogue["movies"][number]);
}
