// What the page needs from the API: title search (GET /movies?q=) and a reason beside every
// recommendation (`because`: the liked movie it is most similar to).
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../src/app.ts";
import { ModelStore } from "../src/model-store.ts";
import { bundles, fixtureData, publish } from "./seed.ts";

interface Because {
  movieId: number;
  title: string;
  similarity: number;
}
interface Rec {
  movieId: number;
  title: string;
  because: Because | null;
}

let app = createApp(new ModelStore());
const get = (path: string, init: RequestInit = {}) => Promise.resolve(app.request(path, init, env));

describe("search and reasons", () => {
  const [v1] = bundles();
  const data = fixtureData(v1);

  beforeEach(async () => {
    await publish(env.MODELS, v1);
    app = createApp(new ModelStore());
  });

  it("searches titles with GET /movies?q=, case-insensitively, at most limit results", async () => {
    const res = await get("/movies?q=MOVIE%201&limit=3");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=300");
    const body = await res.json<{ q: string; results: { movieId: number; title: string }[] }>();
    expect(body.q).toBe("MOVIE 1");
    expect(body.results).toHaveLength(3);
    for (const m of body.results) expect(m.title).toMatch(/^Movie 1/);
    const none = await (await get("/movies?q=no%20such%20film")).json<{ results: unknown[] }>();
    expect(none.results).toEqual([]);
  });

  for (const [path, message] of [
    ["/movies?q=", /q must be/],
    ["/movies", /q must be/],
    ["/movies?q=a&limit=0", /limit must be/],
    ["/movies?q=a&limit=51", /limit must be/],
    ["/movies?q=a&q=b", /given 2 times/],
  ] as const) {
    it(`answers ${path} with 400 JSON`, async () => {
      const res = await get(path);
      expect(res.status).toBe(400);
      expect((await res.json<{ message: string }>()).message).toMatch(message);
    });
  }

  it("gives every recommendation of a history the liked movie it is most similar to", async () => {
    const liked = [data.items[0], data.items[3]];
    const res = await get("/recs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ history: [...liked.map((movieId) => ({ movieId, rating: 5 })), { movieId: data.items[6], rating: 1 }], k: 8 }),
    });
    expect(res.status).toBe(200);
    const recs = (await res.json<{ recommendations: Rec[] }>()).recommendations;
    expect(recs).toHaveLength(8);
    for (const r of recs) {
      expect(r.because).not.toBeNull();
      expect(liked).toContain(r.because?.movieId); // never the disliked one
      expect(r.because?.title).toBe(data.movies[data.items.indexOf(r.because?.movieId ?? -1)].title);
      expect(r.because?.similarity).toBeGreaterThanOrEqual(-1.0001);
      expect(r.because?.similarity).toBeLessThanOrEqual(1.0001);
    }
  });

  it("gives a known user's recommendations a reason from the movies they rated", async () => {
    const u = 4;
    const rated = new Set(Array.from(data.rated.indices.subarray(data.rated.indptr[u], data.rated.indptr[u + 1]), (i) => data.items[i]));
    const recs = (await (await get(`/users/${data.users[u]}/recs`)).json<{ recommendations: Rec[] }>()).recommendations;
    for (const r of recs) expect(rated.has(r.because?.movieId ?? -1)).toBe(true);
  });
});
