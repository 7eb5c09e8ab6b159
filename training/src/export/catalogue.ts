// What a bundle serves beside the model that the split's interactions do not hold: every movie
// each split user rated (any rating, so the Worker never recommends a movie the user has seen)
// and the titles of the split's movies. Built once from the parsed dataset at prepare, written
// to artifacts/split/ with the split, so export never needs the raw data.
import type { MovieMeta } from "../contract/artifacts.ts";
import type { Dataset } from "../data/parse.ts";
import { type Csr, csrFromTriples } from "../protocol/csr.ts";
import type { Split } from "../protocol/protocols.ts";

export interface Catalogue {
  /** The split's items in internal order (ascending id). */
  movies: MovieMeta[];
  /** Internal user x internal item: every split item each split user rated, any rating. */
  rated: Csr;
}

export function catalogueOf(data: Dataset, split: Split): Catalogue {
  const movieById = new Map(data.movies.map((m) => [m.movieId, m]));
  const movies: MovieMeta[] = Array.from(split.itemIds, (id) => {
    const m = movieById.get(id);
    return { movieId: id, title: m?.title ?? `Movie ${id}`, year: m?.year ?? null, genres: m?.genres ?? [] };
  });
  const userIndex = new Map(Array.from(split.userIds, (id, i) => [id, i]));
  const itemIndex = new Map(Array.from(split.itemIds, (id, i) => [id, i]));
  const r = data.ratings;
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
  return { movies, rated: csrFromTriples(split.userIds.length, split.itemIds.length, rows.subarray(0, n), cols.subarray(0, n)) };
}
