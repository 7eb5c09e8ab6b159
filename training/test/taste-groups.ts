// A small dataset in three taste groups (what EASE and MF learn well), made in memory for
// pipeline and retraining tests: 120 users rating 15..40 of 90 movies.
import type { Dataset } from "../src/data/parse.ts";
import { Rng } from "../src/util/rng.ts";

/** `stars` draws each rating (from the same seeded stream as the pairs, so the data is fixed). */
export function tasteGroupDataset(stars: (rng: Rng) => number): Dataset {
  const rng = new Rng(5);
  const user: number[] = [];
  const item: number[] = [];
  const rating: number[] = [];
  for (let u = 1; u <= 120; u++) {
    const seen = new Set<number>();
    const n = 15 + rng.int(26);
    while (seen.size < n) seen.add(rng.next() < 0.7 ? 1 + 3 * rng.int(30) + (u % 3) : 1 + rng.int(90));
    for (const i of seen) {
      user.push(u);
      item.push(i);
      rating.push(stars(rng));
    }
  }
  return {
    name: "ml-100k",
    ratings: {
      length: user.length,
      user: Int32Array.from(user),
      item: Int32Array.from(item),
      rating: Float32Array.from(rating),
      timestamp: new Int32Array(user.length),
    },
    movies: Array.from({ length: 90 }, (_, k) => ({ movieId: k + 1, title: `Movie ${k + 1}`, year: 1990 + (k % 20), genres: ["Drama"] })),
    users: [],
  };
}
