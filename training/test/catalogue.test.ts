// The live catalogue on the training side: item fold-in (the code the Worker runs for a movie
// added after training, and bench:cold-items measures), and retraining that makes the live
// catalogue's rated movies the model's own (docs/catalogue.md).
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import type { Catalogue } from "../src/export/catalogue.ts";
import { csrFromTriples, rowOf } from "../src/protocol/csr.ts";
import type { Split } from "../src/protocol/protocols.ts";
import { readLiveMovies } from "../src/retrain/live-data.ts";
import { mergeLive } from "../src/retrain/merge.ts";
import { ITEM_FOLDIN_SCALE, foldedScore, genreFoldIn, itemFoldIn } from "../src/shared/item-foldin.ts";

describe("item fold-in", () => {
  it("takes the movies its raters liked, by count over sqrt(popularity), weights shrunk by how few raters", () => {
    // three raters: item 0 liked by all three (popular: 100 users), item 1 by two (4 users), item 2 by one
    const f = itemFoldIn(
      [
        [0, 1, 2],
        [0, 1],
        [0, 0],
      ],
      [100, 4, 1],
      { k: 2, shrink: 1, scale: 1 },
    );
    // count / sqrt(popularity): item 1 2/2 = 1, item 2 1/1 = 1 (tie: lower index), item 0 3/10
    expect(f.neighbours).toEqual([1, 2]);
    // weights proportional to counts (2 and 1), summing to 3 / (3 + 1)
    expect(f.weights[0]).toBeCloseTo(0.5, 10);
    expect(f.weights[1]).toBeCloseTo(0.25, 10);
    expect(foldedScore(f, [9, 2, 4])).toBeCloseTo(0.5 * 2 + 0.25 * 4, 10);
  });

  it("has no neighbour without raters who liked a model movie, and scales its weights by ITEM_FOLDIN_SCALE by default", () => {
    expect(itemFoldIn([], [1, 1])).toEqual({ neighbours: [], weights: [] });
    expect(itemFoldIn([[5, -1]], [1, 1])).toEqual({ neighbours: [], weights: [] });
    expect(foldedScore({ neighbours: [], weights: [] }, [1])).toBeNull();
    const f = itemFoldIn([[0], [0], [0], [0], [0]], [5]);
    expect(f.weights[0]).toBeCloseTo((ITEM_FOLDIN_SCALE * 5) / 10, 10);
  });

  it("places a movie nobody rated by the model movies sharing most of its genres, then the most popular", () => {
    const genres = [["Drama"], ["Comedy", "Drama"], ["Comedy"], ["Action"], ["comedy", "drama"]];
    const f = genreFoldIn(["Comedy", "Drama"], genres, [50, 1, 30, 99, 2], { k: 3, shrink: 5, scale: 1 });
    expect(f.neighbours).toEqual([4, 1, 0]);
    expect(f.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1 / 6, 10);
    expect(genreFoldIn([], genres, [1, 1, 1, 1, 1]).neighbours).toEqual([]);
    expect(genreFoldIn(["Western"], genres, [1, 1, 1, 1, 1]).neighbours).toEqual([]);
  });
});

describe("retraining with the live catalogue", () => {
  // users 1..3 over movies 10, 30, 50 (the model's), 70 served by the fallback (neighbours 30, 50)
  const itemIds = Int32Array.from([10, 30, 50]);
  const train = csrFromTriples(3, 3, [0, 0, 1, 1, 2], [0, 1, 1, 2, 0]);
  const split: Split = {
    dataset: "ml-100k",
    protocol: "recbole",
    seed: 1,
    userIds: Int32Array.from([1, 2, 3]),
    itemIds,
    train,
    valid: csrFromTriples(3, 3, [], []),
    test: csrFromTriples(3, 3, [2], [2]),
    counts: { users: 3, items: 3, interactions: 6, train: 5, valid: 0, test: 1 },
  };
  const movie = (movieId: number) => ({ movieId, title: `Movie ${movieId} (2000)`, year: 2000, genres: ["Drama"] });
  const catalogue: Catalogue = {
    movies: [movie(10), movie(30), movie(50), movie(70)],
    rated: csrFromTriples(3, 4, [0, 0, 1, 1, 2, 2], [0, 1, 1, 2, 0, 3]),
    fallback: { k: 2, neighbours: [1, 2], weights: [0.5, 0.25] },
    popular: { window_days: 30, from: null, to: null, movies: [{ movieId: 30, ratings: 2 }] },
  };
  const live = [
    { user: 1, movie: 40, rating: 5, ratedAt: 100 },
    { user: 4, movie: 40, rating: 4, ratedAt: 101 },
    { user: 4, movie: 10, rating: 5, ratedAt: 102 },
    // rated low only: not trained on
    { user: 2, movie: 90, rating: 1, ratedAt: 103 },
  ];
  const movies = [
    { movieId: 40, title: "New Forty (2026)", year: 2026, genres: ["Comedy"] },
    { movieId: 90, title: "New Ninety (2026)", year: 2026, genres: [] },
    { movieId: 95, title: "Nobody Rated (2026)", year: 2026, genres: [] },
  ];

  it("makes the live catalogue's liked movies the model's own, in id order, and renumbers what points at the items", () => {
    const merged = mergeLive({ split, catalogue }, live, [], { recentShare: 0 }, movies);
    expect(Array.from(merged.split.itemIds)).toEqual([10, 30, 40, 50]);
    expect(merged.counts.live_movies).toBe(1);
    expect(merged.catalogue.movies.map((m) => m.movieId)).toEqual([10, 30, 40, 50, 70]);
    expect(merged.catalogue.movies[2]).toEqual({ movieId: 40, title: "New Forty (2026)", year: 2026, genres: ["Comedy"] });
    // the fallback movie's neighbours are still movies 30 and 50
    expect(merged.catalogue.fallback.neighbours.map((i) => merged.split.itemIds[i])).toEqual([30, 50]);
    expect(merged.catalogue.fallback.weights).toEqual([0.5, 0.25]);
    // user 1 trains on movie 40; user 4 (new) on 40 and 10
    const ids = (u: number) => Array.from(rowOf(merged.split.train, merged.split.userIds.indexOf(u)), (i) => merged.split.itemIds[i]).sort((a, b) => a - b);
    expect(ids(1)).toEqual([10, 30, 40]);
    expect(ids(4)).toEqual([10, 40]);
    // rated.bin covers the catalogue in its new order: user 3 still rated 70 (and 10)
    const rated3 = Array.from(rowOf(merged.catalogue.rated, merged.split.userIds.indexOf(3)), (i) => merged.catalogue.movies[i].movieId).sort((a, b) => a - b);
    expect(rated3).toEqual([10, 70]);
    expect(merged.holdout.users.find((u) => u.user === 3)?.target).toEqual([50]);
  });

  it("without a live catalogue, adds no movie (a rating of an unknown movie is skipped as before)", () => {
    const merged = mergeLive({ split, catalogue }, live, [], { recentShare: 0 });
    expect(Array.from(merged.split.itemIds)).toEqual([10, 30, 50]);
    expect(merged.catalogue.movies).toBe(catalogue.movies);
    expect(merged.counts.live_movies).toBe(0);
  });
});

describe("reading the live catalogue for retraining", () => {
  it("reads what POST /admin/movies stores, through the Worker's migrations", async () => {
    const db = new DatabaseSync(":memory:");
    const dir = join(import.meta.dirname, "../../worker/migrations");
    for (const file of readdirSync(dir)
      .filter((f) => f.endsWith(".sql"))
      .sort())
      db.exec(readFileSync(join(dir, file), "utf8"));
    db.exec(`INSERT INTO movies VALUES (200001, 'Dune: Part Two (2024)', 2024, '["Action","Sci-Fi"]', 10, 20), (7, 'Untitled', NULL, '[]', 1, 1)`);
    const query = async (sql: string) => db.prepare(sql).all() as Record<string, unknown>[];
    expect(await readLiveMovies(query)).toEqual([
      { movieId: 7, title: "Untitled", year: null, genres: [] },
      { movieId: 200001, title: "Dune: Part Two (2024)", year: 2024, genres: ["Action", "Sci-Fi"] },
    ]);
    db.close();
  });
});
