// A dataset's ratings as events in time order, and a dataset holding only some of them: what the
// time-ordered benches (bench:replay, bench:time-validation) cut, train on and replay.
import type { Dataset, RatingTable } from "./parse.ts";

export interface Rating {
  user: number;
  movie: number;
  rating: number;
  /** Unix seconds (the dataset's own). */
  timestamp: number;
}

/** Every rating of the table, in time order; ties by user, then movie, so the order is reproducible. */
export function eventsOf(r: RatingTable): Rating[] {
  const out: Rating[] = [];
  for (let p = 0; p < r.length; p++) out.push({ user: r.user[p], movie: r.item[p], rating: r.rating[p], timestamp: r.timestamp[p] });
  return out.sort((a, b) => a.timestamp - b.timestamp || a.user - b.user || a.movie - b.movie);
}

/** The dataset with only these ratings (the movies' titles all kept), named with `suffix`. */
export function datasetOf(data: Dataset, events: readonly Rating[], suffix: string): Dataset {
  const ratings: RatingTable = {
    length: events.length,
    user: Int32Array.from(events, (e) => e.user),
    item: Int32Array.from(events, (e) => e.movie),
    rating: Float32Array.from(events, (e) => e.rating),
    timestamp: Int32Array.from(events, (e) => e.timestamp),
  };
  return { ...data, name: `${data.name}-${suffix}`, ratings };
}
