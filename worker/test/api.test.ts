// Every route and error of the Worker, inside workerd with the R2 binding, against fixture
// models made by the real exporter.
import { SELF, env } from "cloudflare:test";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app.ts";
import type { Env } from "../src/env.ts";
import { log } from "../src/log.ts";
import { ModelStore } from "../src/model-store.ts";
import { bundles, fixtureData, publish } from "./seed.ts";

interface Rec {
  movieId: number;
  title: string;
  year: number | null;
  genres: string[];
  score: number;
}
interface RecsBody {
  user: number;
  model: string;
  k: number;
  recommendations: Rec[];
}

// Each test gets its own model store (a fresh isolate's), so no test depends on another's.
let store = new ModelStore();
let app = createApp(store);
const get = (path: string, init: RequestInit = {}, bindings: Partial<Env> = {}): Promise<Response> =>
  Promise.resolve(app.request(path, init, { ...env, ...bindings }));

describe("serving a published model", () => {
  const [v1, v2] = bundles();
  const data = fixtureData(v1);

  beforeEach(async () => {
    await publish(env.MODELS, v1);
    store = new ModelStore();
    app = createApp(store);
  });

  it("shares one load between concurrent first requests", async () => {
    const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => get(`/users/${data.users[i]}/recs`)));
    for (const r of responses) expect(r.status).toBe(200);
    expect(store.loads).toBe(1);
  });

  it("answers GET /users/:id/recs with k movies, best first, with titles, through the real entry point", async () => {
    const user = data.users[0];
    const res = await SELF.fetch(`https://edge.test/users/${user}/recs?k=5`);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-model-version")).toBe("fixture-v1");
    expect(res.headers.get("cache-control")).toBe("private, no-store");
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    // where the time went: reading the user and ranking (overlapped), the reasons, and the whole
    // (and, when this request waited for the isolate's model load, the load's phases: load-*,
    // cold-load.test.ts)
    const timings = (res.headers.get("server-timing") ?? "").split(",").map((m) => m.split(";")[0].trim());
    expect(timings.filter((name) => !name.startsWith("load-"))).toEqual(["rank", "reasons", "total"]);
    const body = await res.json<RecsBody>();
    expect(body.user).toBe(user);
    expect(body.model).toBe("fixture-v1");
    expect(body.k).toBe(5);
    expect(body.recommendations).toHaveLength(5);
    for (const r of body.recommendations) {
      expect(r.title).toMatch(/^Movie \d+/);
      expect(typeof r.score).toBe("number");
    }
    const scores = body.recommendations.map((r) => r.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  });

  it("defaults k to 10 and never recommends a movie the user rated, for every user", async () => {
    for (let u = 0; u < data.users.length; u++) {
      const body = await (await get(`/users/${data.users[u]}/recs`)).json<RecsBody>();
      expect(body.recommendations).toHaveLength(10);
      const rated = new Set(Array.from(data.rated.indices.subarray(data.rated.indptr[u], data.rated.indptr[u + 1]), (i) => data.items[i]));
      for (const r of body.recommendations) expect(rated.has(r.movieId)).toBe(false);
    }
  });

  it("serves movie metadata and similar movies, excluding the movie itself", async () => {
    const id = data.items[3];
    const movie = await (await get(`/movies/${id}`)).json<{ movie: { movieId: number; title: string } }>();
    expect(movie.movie).toEqual(data.movies[3]);
    const res = await get(`/movies/${id}/similar?k=4`);
    expect(res.status).toBe(200);
    const body = await res.json<{ similar: Rec[]; movie: { movieId: number } }>();
    expect(body.movie.movieId).toBe(id);
    expect(body.similar).toHaveLength(4);
    for (const r of body.similar) {
      expect(r.movieId).not.toBe(id);
      expect(r.score).toBeLessThanOrEqual(1.0001);
    }
  });

  it("reports the loaded version and counts on /health", async () => {
    const res = await get("/health");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toMatchObject({ status: "ok", model: "fixture-v1", users: data.users.length, items: data.items.length });
  });

  const errors: [string, number, string][] = [
    ["/users/abc/recs", 400, "bad_request"],
    ["/users/0/recs", 400, "bad_request"],
    ["/users/1.5/recs", 400, "bad_request"],
    ["/users/1/recs?k=0", 400, "bad_request"],
    ["/users/1/recs?k=101", 400, "bad_request"],
    ["/users/1/recs?k=ten", 400, "bad_request"],
    ["/users/1/recs?k=5&k=6", 400, "bad_request"],
    ["/movies/999999", 404, "unknown_movie"],
    ["/movies/x/similar", 400, "bad_request"],
    ["/movies/1/similar?k=-1", 400, "bad_request"],
    ["/nope", 404, "not_found"],
    ["/users/1", 404, "not_found"],
  ];
  for (const [path, status, code] of errors) {
    it(`answers ${path} with ${status} ${code} as JSON`, async () => {
      const res = await get(path.replace("/users/1/", `/users/${data.users[0]}/`));
      expect(res.status).toBe(status);
      expect(res.headers.get("content-type")).toMatch(/application\/json/);
      const body = await res.json<{ error: string; message: string }>();
      expect(body.error).toBe(code);
      expect(body.message.length).toBeGreaterThan(0);
      expect(JSON.stringify(body)).not.toMatch(/at .*\.(ts|js):\d+/);
    });
  }

  it("answers other methods with a JSON 404 and CORS preflight for GET", async () => {
    const post = await get(`/users/${data.users[0]}/recs`, { method: "POST" });
    expect(post.status).toBe(404);
    expect((await post.json<{ error: string }>()).error).toBe("not_found");
    const preflight = await get("/users/1/recs", { method: "OPTIONS", headers: { origin: "https://example.com", "access-control-request-method": "GET" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-methods")).toMatch(/GET/);
  });

  it("requires the bearer token on every route but /health when API_TOKEN is set", async () => {
    const secured = { API_TOKEN: "s3cret" };
    const path = `/users/${data.users[0]}/recs`;
    expect((await get(path, {}, secured)).status).toBe(401);
    expect((await get(path, { headers: { authorization: "Bearer wrong" } }, secured)).status).toBe(401);
    const ok = await get(path, { headers: { authorization: "Bearer s3cret" } }, secured);
    expect(ok.status).toBe(200);
    expect((await get("/health", {}, secured)).status).toBe(200);
    const denied = await get("/movies/1", {}, secured);
    expect((await denied.json<{ error: string }>()).error).toBe("unauthorized");
  });

  it("switches to a newly published version without a redeploy", async () => {
    expect((await get("/health")).headers.get("x-model-version")).toBe("fixture-v1");
    await publish(env.MODELS, v2);
    const body = await (await get(`/users/${fixtureData(v2).users[0]}/recs`)).json<RecsBody>();
    expect(body.model).toBe("fixture-v2");
    expect(store.loads).toBe(2);
  });

  it("keeps serving the loaded version when a newer publication is broken", async () => {
    await publish(env.MODELS, v2);
    expect((await get("/health")).status).toBe(200);
    await env.MODELS.put("models/current.json", "{broken");
    const warned = vi.spyOn(log, "warn").mockImplementation(() => {});
    const res = await get("/health");
    expect(res.status).toBe(200);
    expect((await res.json<{ model: string }>()).model).toBe("fixture-v2");
    expect(warned).toHaveBeenCalledWith("keeping model fixture-v2: refresh failed", expect.objectContaining({ code: "model_unavailable" }));
  });
});
