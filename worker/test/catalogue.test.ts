// The live catalogue (docs/catalogue.md): POST /admin/movies adds or updates movies in D1, all or
// nothing and audited; they are searchable at once and recommended by item fold-in from their
// raters' live ratings (or their genres before any), on every bundle shape, never breaking it; a
// dismissed movie is never recommended again.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { liveCatalogue } from "../src/catalogue/live.ts";
import { ModelStore } from "../src/model-store.ts";
import { bundles, publish } from "./seed.ts";
import { BROKEN_DB, SECURED, asAdmin, asUser, freshApp, recordErrors } from "./trust-helpers.ts";

interface Recs {
  source: string;
  recId: string;
  recommendations: { movieId: number; title: string; score: number; because: unknown }[];
}

// D1 is shared by this file's tests (which run in any order): each uses its own movie ids
const NEW_MOVIE = { movieId: 200_101, title: "A New Movie (2026)", genres: ["Drama"] };
/** The fixture's taste group of users u % 3 == 0: movies 1, 4, 7, ... (global-setup.ts). */
const GROUP = [1, 4, 7, 10, 13, 16, 19, 22, 25, 28];
const RATERS = 30;

describe("POST /admin/movies", () => {
  it("adds and updates movies, all or nothing, audited, for the admin token only", async () => {
    const { send, call } = freshApp();
    await publish(env.MODELS, bundles()[0]);
    const put = (body: unknown, headers = asAdmin) => send("POST", "/admin/movies", body, headers);

    expect((await put({ movies: [NEW_MOVIE] }, {})).status).toBe(401);
    expect((await put({ movies: [NEW_MOVIE] }, await asUser(42))).status).toBe(403);

    // the second movie is malformed: the message names it, and the first is not stored either
    const bad = await put({ movies: [NEW_MOVIE, { movieId: 200_102, title: "No year", genres: [] }] });
    expect(bad.status).toBe(400);
    expect((await bad.json<{ message: string }>()).message).toMatch(/movies\[1\]\.title.*\(1995\)/);
    const twice = await put({ movies: [NEW_MOVIE, { ...NEW_MOVIE, title: "Again (2026)" }] });
    expect(twice.status).toBe(400);
    expect((await twice.json<{ message: string }>()).message).toMatch(/movies\[1\] repeats movie 200101 of movies\[0\]/);
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM movies WHERE id IN (200101, 200102)").first<{ n: number }>())?.n).toBe(0);

    const ok = await put({ movies: [NEW_MOVIE] });
    expect(ok.status).toBe(200);
    const stored = await ok.json<{ stored: number; movies: { movieId: number; year: number; addedAt: number }[] }>();
    expect(stored.stored).toBe(1);
    expect(stored.movies[0]).toMatchObject({ movieId: 200_101, year: 2026 });

    // searchable at once, and its own page
    const search = await (await call("/movies?q=new%20movie", { headers: asAdmin })).json<{ results: { movieId: number }[] }>();
    expect(search.results.map((m) => m.movieId)).toContain(200_101);
    expect((await call("/movies/200101", { headers: asAdmin })).status).toBe(200);

    // an update keeps added_at and changes the title; a bundle movie's correction replaces it in search
    const updated = await put({
      movies: [
        { ...NEW_MOVIE, title: "A Renamed Movie (2026)" },
        { movieId: 5, title: "Movie Five Corrected (1954)", genres: ["Comedy"] },
      ],
    });
    expect(updated.status).toBe(200);
    const again = await updated.json<{ movies: { movieId: number; title: string; addedAt: number }[] }>();
    expect(again.movies[1]).toMatchObject({ movieId: 200_101, title: "A Renamed Movie (2026)", addedAt: stored.movies[0].addedAt });
    const renamed = await (await call("/movies?q=renamed", { headers: asAdmin })).json<{ results: { movieId: number }[] }>();
    expect(renamed.results.map((m) => m.movieId)).toEqual([200_101]);
    const corrected = await (await call("/movies/5", { headers: asAdmin })).json<{ movie: { title: string } }>();
    expect(corrected.movie.title).toBe("Movie Five Corrected (1954)");

    const audit = await env.DB.prepare("SELECT actor, subject, detail FROM audit_log WHERE action = 'movies.put' AND detail LIKE '%200101%' ORDER BY id").all();
    expect(audit.results).toEqual([
      { actor: "admin", subject: "movie:200101", detail: JSON.stringify({ movies: [200_101] }) },
      { actor: "admin", subject: "movies:2", detail: JSON.stringify({ movies: [200_101, 5] }) },
    ]);
  });
});

describe("the live catalogue with D1 down", () => {
  it("search and movie pages answer from the bundle alone; a batch of movies answers 503", async () => {
    const { call, send } = freshApp();
    await publish(env.MODELS, bundles()[0]);
    const broken = { ...SECURED, DB: BROKEN_DB };
    const logged = recordErrors();
    const search = await call("/movies?q=movie%201&limit=3", { headers: asAdmin }, broken);
    expect(search.status).toBe(200);
    expect((await search.json<{ results: unknown[] }>()).results).toHaveLength(3);
    expect((await call("/movies/1", { headers: asAdmin }, broken)).status).toBe(200);
    // an optional read that failed is a warning, not the store being down
    expect(logged).not.toHaveBeenCalled();
    const put = await send("POST", "/admin/movies", { movies: [{ movieId: 200_201, title: "Down (2026)", genres: [] }] }, asAdmin, broken);
    expect(put.status).toBe(503);
    expect((await put.json<{ error: string }>()).error).toBe("live_store_unavailable");
    expect(logged).toHaveBeenCalledTimes(1);
  });
});

for (const [n, version] of ["fixture-v1", "fixture-ease", "fixture-blend", "fixture-compact"].entries()) {
  describe(`live movies against ${version}`, () => {
    const movie = { movieId: 200_001 + 10 * n, title: `Fresh Release ${n} (2026)`, genres: ["Drama"] };
    const unrated = { movieId: 200_002 + 10 * n, title: `Unrated ${n} (2026)`, genres: ["Action"] };
    it("folds a new movie in from its raters, recommends it at once, never back to who rated it", async () => {
      const { send, call } = freshApp();
      const b = bundles().find((x) => x.version === version)!;
      await publish(env.MODELS, b);
      expect((await send("POST", "/admin/movies", { movies: [movie, unrated] }, asAdmin)).status).toBe(200);

      // before anyone rated it, a movie is placed by its genres
      const lease = await new ModelStore().acquire(env);
      const model = lease.model;
      let live = await liveCatalogue(env, model);
      const byId = (id: number) => live.folded.find((f) => f.movie.movieId === id)!;
      expect(byId(movie.movieId).from).toBe("genres");
      for (const i of byId(unrated.movieId).neighbours.neighbours) expect(model.movies[i].genres).toContain("Action");

      // thirty new users who like the group's movies like it too (enough that the shrinkage toward
      // "unrelated" leaves it among the group's movies: 30 / (30 + 5) of its neighbours' mean)
      for (let u = 0; u < RATERS; u++) {
        const ratings = [...GROUP.slice(u % 5, (u % 5) + 5), movie.movieId].map((movieId) => ({ movieId, rating: 5 }));
        expect((await send("POST", `/users/${700_000 + 100 * n + u}/ratings`, { ratings }, asAdmin)).status).toBe(200);
      }
      live = await liveCatalogue(env, model);
      expect(byId(movie.movieId).from).toBe("raters");
      expect(byId(movie.movieId).raters).toBe(RATERS);
      const neighbourIds = byId(movie.movieId).neighbours.neighbours.map((i) => model.movies[i].movieId);
      // the raters' liked movies, and nothing else (they are new users: no snapshot)
      expect(neighbourIds.sort((a, b) => a - b)).toEqual(GROUP.slice(0, 9));

      // a visitor with the same taste gets it, without a reason; one who rated it does not
      const history = GROUP.slice(0, 4).map((movieId) => ({ movieId, rating: 5 }));
      const res = await send("POST", "/recs", { history, k: 60 }, asAdmin);
      expect(res.status, await res.clone().text()).toBe(200);
      const recs = (await res.json<Recs>()).recommendations;
      const mine = recs.find((r) => r.movieId === movie.movieId);
      expect(mine, JSON.stringify(recs.map((r) => r.movieId))).toBeDefined();
      expect(mine?.because).toBeNull();
      expect(recs.length).toBe(60);
      // placed with its raters' taste: ahead of most movies of the other groups
      const others = recs.filter((r) => r.movieId % 3 !== 1 && r.movieId < 200_000);
      const behind = others.filter((r) => recs.indexOf(r) > recs.indexOf(mine!)).length;
      expect(behind / others.length).toBeGreaterThan(0.5);
      for (let r = 1; r < recs.length; r++) expect(recs[r].score).toBeLessThanOrEqual(recs[r - 1].score);
      // the request's filters hold for live movies too: a Drama excluded, or a year range it misses
      for (const rules of [{ excludeGenres: ["Drama"] }, { yearMax: 2000 }, { exclude: [movie.movieId] }]) {
        const filtered = await (await send("POST", "/recs", { history, k: 60, ...rules }, asAdmin)).json<Recs>();
        expect(
          filtered.recommendations.map((r) => r.movieId),
          JSON.stringify(rules),
        ).not.toContain(movie.movieId);
      }
      const dramas = await (await send("POST", "/recs", { history, k: 60, genres: ["Drama"] }, asAdmin)).json<Recs>();
      expect(dramas.recommendations.map((r) => r.movieId)).toContain(movie.movieId);
      const rated = await send("POST", "/recs", { history: [...history, { movieId: movie.movieId, rating: 4 }], k: 60 }, asAdmin);
      expect((await rated.json<Recs>()).recommendations.map((r) => r.movieId)).not.toContain(movie.movieId);
      // a rater's own list: never the movie they rated
      const own = await (await call(`/users/${700_000 + 100 * n}/recs?k=60`, { headers: asAdmin })).json<Recs>();
      expect(own.recommendations.map((r) => r.movieId)).not.toContain(movie.movieId);
      lease.release();
    });
  });
}

describe("dismissed movies", () => {
  it("are never recommended to that user again", async () => {
    const { send, call } = freshApp();
    await publish(env.MODELS, bundles().find((x) => x.version === "fixture-ease")!);
    const user = 710_001;
    const ratings = GROUP.slice(0, 5).map((movieId) => ({ movieId, rating: 5 }));
    expect((await send("POST", `/users/${user}/ratings`, { ratings }, asAdmin)).status).toBe(200);
    const first = await (await call(`/users/${user}/recs?k=5`, { headers: asAdmin })).json<Recs>();
    const top = first.recommendations[0].movieId;
    const event = { id: "dismiss-1", userId: user, movieId: top, type: "dismiss", recId: first.recId, ts: Math.floor(Date.now() / 1000) };
    expect((await send("POST", "/events", { events: [event] }, asAdmin)).status).toBe(200);
    const after = await (await call(`/users/${user}/recs?k=5`, { headers: asAdmin })).json<Recs>();
    expect(after.recommendations.map((r) => r.movieId)).not.toContain(top);
    expect(after.recommendations.map((r) => r.movieId)).toEqual(
      first.recommendations
        .slice(1)
        .map((r) => r.movieId)
        .concat(after.recommendations[4].movieId),
    );
  });
});
