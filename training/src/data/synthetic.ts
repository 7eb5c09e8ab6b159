// A seeded generator of ratings with a MovieLens release's shape: the same numbers of users,
// movies and ratings, heavy-tailed user activity (every user rates at least 20 movies, as in
// MovieLens) and heavy-tailed movie popularity, half-star ratings distributed like ML-25M's,
// written in the CSV format of ML-20M and later. For measuring scale only: the ratings are
// random draws, so quality figures on them mean nothing.
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { tempPathFor } from "../util/fs-atomic.ts";
import { Rng } from "../util/rng.ts";
import { MOVIES_CSV_HEADER, RATINGS_CSV_HEADER } from "./csv.ts";

export interface SyntheticShape {
  users: number;
  movies: number;
  ratings: number;
}

/** The releases the generator can imitate (counts from GroupLens's README). */
export const SYNTHETIC_SHAPES: Record<string, SyntheticShape> = {
  "ml-32m": { users: 200_948, movies: 87_585, ratings: 32_000_204 },
};

/** MovieLens users have at least this many ratings. */
const MIN_PER_USER = 20;
/** Spread of the log-normal user activity (ML's heaviest users rate thousands of movies). */
const ACTIVITY_SIGMA = 1.2;
/** Zipf exponent of movie popularity. */
const POPULARITY_EXPONENT = 1.1;
/** Share of each half star from 0.5 to 5.0, as in ML-25M. */
const STAR_SHARES = [0.016, 0.032, 0.016, 0.071, 0.049, 0.197, 0.128, 0.266, 0.083, 0.142];
const GENRES = [
  "Action",
  "Adventure",
  "Animation",
  "Children",
  "Comedy",
  "Crime",
  "Documentary",
  "Drama",
  "Fantasy",
  "Horror",
  "Romance",
  "Sci-Fi",
  "Thriller",
];

/** How many ratings each user gets: at least MIN_PER_USER, log-normal beyond, summing exactly to `total`. */
export function userActivity(rng: Rng, users: number, movies: number, total: number): Int32Array {
  if (total < users * MIN_PER_USER) throw new Error(`${total} ratings cannot give ${users} users ${MIN_PER_USER} each`);
  const cap = Math.floor(movies / 2);
  if (total > users * cap) throw new Error(`${total} ratings do not fit ${users} users rating at most half of ${movies} movies`);
  const weights = new Float64Array(users);
  let sum = 0;
  for (let u = 0; u < users; u++) {
    weights[u] = Math.exp(ACTIVITY_SIGMA * rng.normal());
    sum += weights[u];
  }
  const extra = total - users * MIN_PER_USER;
  const counts = new Int32Array(users);
  let given = 0;
  for (let u = 0; u < users; u++) {
    counts[u] = Math.min(cap, MIN_PER_USER + Math.floor((extra * weights[u]) / sum));
    given += counts[u];
  }
  // what rounding and the cap left over goes one by one to users below the cap
  for (let u = 0; given < total; u = (u + 1) % users) {
    if (counts[u] < cap) {
      counts[u]++;
      given++;
    }
  }
  return counts;
}

/** Vose's alias table: O(1) draws from a discrete distribution. */
export class AliasTable {
  private readonly prob: Float64Array;
  private readonly alias: Int32Array;

  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) total += weights[i];
    const scaled = Float64Array.from(weights, (w) => (w * n) / total);
    const small: number[] = [];
    const large: number[] = [];
    for (let i = 0; i < n; i++) (scaled[i] < 1 ? small : large).push(i);
    while (small.length > 0 && large.length > 0) {
      const s = small.pop()!;
      const l = large.pop()!;
      this.prob[s] = scaled[s];
      this.alias[s] = l;
      scaled[l] -= 1 - scaled[s];
      (scaled[l] < 1 ? small : large).push(l);
    }
    for (const i of [...small, ...large]) this.prob[i] = 1;
  }

  draw(rng: Rng): number {
    const i = rng.int(this.prob.length);
    return rng.next() < this.prob[i] ? i : this.alias[i];
  }
}

/** Buffered writes of ASCII lines to a file descriptor. */
class LineWriter {
  private parts: string[] = [];
  private size = 0;
  constructor(private readonly fd: number) {}
  line(text: string): void {
    this.parts.push(text);
    this.size += text.length + 1;
    if (this.size > 1 << 22) this.flush();
  }
  flush(): void {
    if (this.parts.length === 0) return;
    writeSync(this.fd, `${this.parts.join("\n")}\n`);
    this.parts = [];
    this.size = 0;
  }
}

function movieTitle(id: number, rng: Rng): string {
  const year = 1920 + rng.int(104);
  // some titles hold a comma and quotes, as MovieLens titles do, so readers must parse quoting
  if (id % 7 === 0) return `"Synthetic Movie ${id}, The (${year})"`;
  if (id % 11 === 0) return `"Synthetic ""Movie"" ${id} (${year})"`;
  return `Synthetic Movie ${id} (${year})`;
}

/**
 * Writes ratings.csv and movies.csv with `shape` into `dir` (replaced as a whole, through a temp
 * folder). Users are numbered 1..users, movies 1..movies; popularity is independent of the id.
 */
export function writeSyntheticDataset(shape: SyntheticShape, dir: string, seed: number, progress: (usersDone: number) => void = () => {}): void {
  const rng = new Rng(seed);
  const counts = userActivity(rng, shape.users, shape.movies, shape.ratings);
  // movie popularity: Zipf over ranks, ranks shuffled over ids
  const rankOf = rng.shuffle(Int32Array.from({ length: shape.movies }, (_, i) => i));
  const weights = new Float64Array(shape.movies);
  for (let m = 0; m < shape.movies; m++) weights[m] = 1 / (rankOf[m] + 1) ** POPULARITY_EXPONENT;
  const popularity = new AliasTable(weights);
  const stars = new AliasTable(STAR_SHARES);

  const staging = tempPathFor(dir);
  mkdirSync(staging, { recursive: true });
  try {
    const movies = openSync(join(staging, "movies.csv"), "w");
    const mw = new LineWriter(movies);
    mw.line(MOVIES_CSV_HEADER);
    for (let m = 1; m <= shape.movies; m++) {
      const genres = GENRES.filter(() => rng.next() < 0.15);
      mw.line(`${m},${movieTitle(m, rng)},${genres.length ? genres.join("|") : "(no genres listed)"}`);
    }
    mw.flush();
    closeSync(movies);

    const ratings = openSync(join(staging, "ratings.csv"), "w");
    const rw = new LineWriter(ratings);
    rw.line(RATINGS_CSV_HEADER);
    const taken = new Int32Array(shape.movies).fill(-1);
    const picked = new Int32Array(counts.reduce((a, b) => Math.max(a, b), 0));
    for (let u = 0; u < shape.users; u++) {
      const n = counts[u];
      let k = 0;
      while (k < n) {
        const m = popularity.draw(rng);
        if (taken[m] === u) continue;
        taken[m] = u;
        picked[k++] = m;
      }
      const mine = picked.subarray(0, n).sort();
      let time = 946_684_800 + rng.int(730_000_000); // 2000 to 2023
      for (let j = 0; j < n; j++) {
        time += rng.int(5000);
        const half = stars.draw(rng) + 1;
        rw.line(`${u + 1},${mine[j] + 1},${(half / 2).toFixed(1)},${time}`);
      }
      if (u % 10_000 === 0) progress(u);
    }
    rw.flush();
    closeSync(ratings);
    writeFileSync(
      join(staging, "SYNTHETIC.txt"),
      `Generated by edgerec (npm run data -- --synthetic), seed ${seed}: ${shape.users} users, ${shape.movies} movies, ${shape.ratings} ratings.\nRandom draws with MovieLens's shape, for scale measurements only: quality figures on this data mean nothing.\n`,
    );
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
