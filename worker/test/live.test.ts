// Live users: ratings stored in the real local D1 (migrations applied), excluded from the very
// next recommendation, fold-in for users the model does not know, the auth rule for writes and
// history reads, bad bodies that store nothing, and concurrent writes that lose nothing.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { app } from "../src/app.ts";
import type { Env } from "../src/env.ts";
import { log } from "../src/log.ts";
import { bundles, fixtureData, publish } from "./seed.ts";

interface Rec {
  movieId: number;
  score: number;
}
interface RecsBody {
  user?: number;
  model: string;
  k: number;
  source: string;
  recommendations: Rec[];
}
interface RatingsBody {
  user: number;
  ratings: { movieId: number; rating: number | null; timestamp: number }[];
}
interface ErrorBody {
  error: string;
  message: string;
}

const TOKEN = "test-token";
const secured: Partial<Env> = { API_TOKEN: TOKEN };
const auth = { authorization: `Bearer ${TOKEN}` };

function call(path: string, init: RequestInit = {}, bindings: Partial<Env> = secured): Promise<Response> {
  return Promise.resolve(app.request(path, init, { ...env, ...bindings }));
}

function post(path: string, body: unknown, bindings: Partial<Env> = secured, headers: Record<string, string> = auth): Promise<Response> {
  return call(
    path,
    { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) },
    bindings,
  );
}

async function recs(user: number, k = 10): Promise<RecsBody> {
  const res = await call(`/users/${user}/recs?k=${k}`, { headers: auth });
  expect(res.status).toBe(200);
  return res.json<RecsBody>();
}

async function stored(user: number): Promise<RatingsBody["ratings"]> {
  const res = await call(`/users/${user}/ratings`, { headers: auth });
  expect(res.status).toBe(200);
  return (await res.json<RatingsBody>()).ratings;
}

describe("live ratings in D1", () => {
  const [v1] = bundles();
  const data = fixtureData(v1);
  const movies = data.items;
  const newUser = (n: number): number => 900_000 + n; // ids the model has never seen

  beforeAll(async () => {
    await publish(env.MODELS, v1);
  });

  it("excludes a movie rated through the POST from the very next request (read-your-writes)", async () => {
    const user = data.users[5];
    const before = await recs(user);
    expect(before.source).toBe("model");
    const top = before.recommendations[0].movieId;
    const res = await post(`/users/${user}/ratings`, { ratings: [{ movieId: top, rating: 5 }] });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ user, stored: 1, ratings: [{ movieId: top, rating: 5 }] });
    const after = await recs(user);
    expect(after.source).toBe("model");
    expect(after.recommendations.map((r) => r.movieId)).not.toContain(top);
    // the rest of the snapshot exclusion still holds
    const u = data.users.indexOf(user);
    const rated = new Set(Array.from(data.rated.indices.subarray(data.rated.indptr[u], data.rated.indptr[u + 1]), (i) => movies[i]));
    for (const r of after.recommendations) expect(rated.has(r.movieId)).toBe(false);
  });

  it("gives a new user the cold-start list, then fold-in recommendations once they rate movies", async () => {
    const user = newUser(1);
    const none = await recs(user);
    expect(none.source).toBe("popular");
    expect(none.recommendations).toHaveLength(10);

    const liked = [movies[0], movies[3], movies[6], movies[9]];
    const disliked = movies[12];
    const res = await post(`/users/${user}/ratings`, { ratings: [...liked.map((movieId) => ({ movieId, rating: 5 })), { movieId: disliked, rating: 1 }] });
    expect(res.status).toBe(200);
    const body = await recs(user, 20);
    expect(body.source).toBe("fold-in");
    expect(body.recommendations).toHaveLength(20);
    const ids = body.recommendations.map((r) => r.movieId);
    for (const m of [...liked, disliked]) expect(ids).not.toContain(m);

    // the same history through the stateless route ranks the same movies
    const anon = await post("/recs", { history: [...liked.map((movieId) => ({ movieId, rating: 5 })), { movieId: disliked, rating: 1 }], k: 20 });
    expect(anon.status).toBe(200);
    expect((await anon.json<RecsBody>()).recommendations.map((r) => r.movieId)).toEqual(ids);
  });

  it("treats ratings below 3 as excluded but not positive", async () => {
    const user = newUser(2);
    await post(`/users/${user}/ratings`, {
      ratings: [
        { movieId: movies[1], rating: 2 },
        { movieId: movies[2], rating: 1 },
      ],
    });
    const cold = await recs(user);
    expect(cold.source).toBe("popular");
    for (const m of [movies[1], movies[2]]) expect(cold.recommendations.map((r) => r.movieId)).not.toContain(m);
    // a watch without a rating is a positive
    await post(`/users/${user}/ratings`, { ratings: [{ movieId: movies[4] }] });
    const body = await recs(user);
    expect(body.source).toBe("fold-in");
    for (const m of [movies[1], movies[2], movies[4]]) expect(body.recommendations.map((r) => r.movieId)).not.toContain(m);
  });

  it("replaces a re-rating and keeps one row per movie", async () => {
    const user = newUser(3);
    await post(`/users/${user}/ratings`, { ratings: [{ movieId: movies[7], rating: 5, timestamp: 1000 }] });
    await post(`/users/${user}/ratings`, { ratings: [{ movieId: movies[7], rating: 2, timestamp: 2000 }] });
    expect(await stored(user)).toEqual([{ movieId: movies[7], rating: 2, timestamp: 2000 }]);
    // within one request, the last entry for a movie wins
    await post(`/users/${user}/ratings`, {
      ratings: [
        { movieId: movies[8], rating: 1 },
        { movieId: movies[8], rating: 4 },
      ],
    });
    const rows = await stored(user);
    expect(rows).toHaveLength(2);
    expect(rows.find((r) => r.movieId === movies[8])?.rating).toBe(4);
  });

  it("deletes one rating, then everything stored for a user", async () => {
    const user = newUser(4);
    await post(`/users/${user}/ratings`, {
      ratings: [
        { movieId: movies[0], rating: 5 },
        { movieId: movies[1], rating: 4 },
      ],
    });
    let res = await call(`/users/${user}/ratings/${movies[0]}`, { method: "DELETE", headers: auth });
    expect(await res.json()).toEqual({ user, movieId: movies[0], deleted: true });
    res = await call(`/users/${user}/ratings/${movies[0]}`, { method: "DELETE", headers: auth });
    expect(await res.json()).toEqual({ user, movieId: movies[0], deleted: false });
    expect((await stored(user)).map((r) => r.movieId)).toEqual([movies[1]]);
    // the deleted movie is out of the history and out of the exclusion: the user now ranks
    // exactly like a visitor whose whole history is the one movie left
    const alone = await post("/recs", { history: [{ movieId: movies[1], rating: 4 }], k: 10 });
    expect((await recs(user)).recommendations).toEqual((await alone.json<RecsBody>()).recommendations);
    res = await call(`/users/${user}`, { method: "DELETE", headers: auth });
    expect(await res.json()).toEqual({ user, deleted: 1 });
    expect(await stored(user)).toEqual([]);
    // nothing left: the cold-start list
    expect((await recs(user)).source).toBe("popular");
  });

  const writeRoutes: [string, string, unknown?][] = [
    ["POST", "/users/7/ratings", { ratings: [{ movieId: 1, rating: 5 }] }],
    ["GET", "/users/7/ratings"],
    ["DELETE", "/users/7/ratings/1"],
    ["DELETE", "/users/7"],
  ];
  for (const [method, path, body] of writeRoutes) {
    it(`${method} ${path}: 403 with a hint when no token is configured, 401 for a wrong token`, async () => {
      const init = (headers: Record<string, string>): RequestInit => ({
        method,
        headers: { ...headers, "content-type": "application/json" },
        body: body ? JSON.stringify(body) : undefined,
      });
      const open = await call(path, init({}), { API_TOKEN: undefined });
      expect(open.status).toBe(403);
      const err = await open.json<ErrorBody>();
      expect(err.error).toBe("forbidden");
      expect(err.message).toMatch(/wrangler secret put API_TOKEN/);
      expect((await call(path, init({ authorization: "Bearer wrong" }))).status).toBe(401);
      expect((await call(path, init({}))).status).toBe(401);
    });
  }

  it("lets recommendations and POST /recs follow the GET rule: open without a token configured", async () => {
    expect((await call(`/users/${data.users[0]}/recs`, {}, { API_TOKEN: undefined })).status).toBe(200);
    expect((await post("/recs", { history: [{ movieId: movies[0] }] }, { API_TOKEN: undefined }, {})).status).toBe(200);
    expect((await post("/recs", { history: [{ movieId: movies[0] }] }, secured, {})).status).toBe(401);
  });

  const big = JSON.stringify({ ratings: Array.from({ length: 1 }, () => ({ movieId: 1, rating: 5 })), pad: "x".repeat(1024 * 1024 + 10) });
  const badBodies: [string, string | unknown, number, string][] = [
    ["not JSON", "{ratings: [", 400, "bad_request"],
    ["not an object", [1, 2], 400, "bad_request"],
    ["ratings not an array", { ratings: "5" }, 400, "bad_request"],
    ["no entries", { ratings: [] }, 400, "bad_request"],
    ["1,001 entries", { ratings: Array.from({ length: 1001 }, () => ({ movieId: 1, rating: 5 })) }, 400, "bad_request"],
    ["a movie id as a string", { ratings: [{ movieId: "1", rating: 5 }] }, 400, "bad_request"],
    ["a rating as a string", { ratings: [{ movieId: 1, rating: "5" }] }, 400, "bad_request"],
    [
      "rating 0",
      {
        ratings: [
          { movieId: 1, rating: 5 },
          { movieId: 2, rating: 0 },
        ],
      },
      400,
      "bad_request",
    ],
    ["rating 6", { ratings: [{ movieId: 1, rating: 6 }] }, 400, "bad_request"],
    ["a negative timestamp", { ratings: [{ movieId: 1, rating: 5, timestamp: -1 }] }, 400, "bad_request"],
    ["an unknown field", { ratings: [{ movieId: 1, stars: 5 }] }, 400, "bad_request"],
    ["over 1 MB", big, 413, "payload_too_large"],
  ];
  for (const [what, body, status, code] of badBodies) {
    it(`answers a body with ${what} with ${status} JSON and stores nothing`, async () => {
      const user = newUser(100);
      const res = await post(`/users/${user}/ratings`, body);
      expect(res.status).toBe(status);
      const err = await res.json<ErrorBody>();
      expect(err.error).toBe(code);
      expect(err.message.length).toBeGreaterThan(0);
      expect(await stored(user)).toEqual([]);
    });
  }

  it("answers a body sent without a JSON Content-Type with 400 JSON that says so", async () => {
    const res = await call(`/users/${newUser(102)}/ratings`, { method: "POST", headers: auth, body: JSON.stringify({ ratings: [{ movieId: movies[0] }] }) });
    expect(res.status).toBe(400);
    const err = await res.json<ErrorBody>();
    expect(err.error).toBe("bad_request");
    expect(err.message).toMatch(/Content-Type/);
  });

  it("names the bad entry", async () => {
    const res = await post(`/users/${newUser(101)}/ratings`, {
      ratings: [
        { movieId: movies[0], rating: 5 },
        { movieId: movies[1], rating: 9 },
      ],
    });
    expect((await res.json<ErrorBody>()).message).toMatch(/ratings\[1\]\.rating/);
  });

  it("loses nothing under 20 concurrent POSTs for one user", async () => {
    const user = newUser(5);
    const responses = await Promise.all(
      movies.slice(0, 20).map((movieId, n) => post(`/users/${user}/ratings`, { ratings: [{ movieId, rating: 1 + (n % 5) }] })),
    );
    for (const r of responses) expect(r.status).toBe(200);
    const rows = await stored(user);
    expect(rows.map((r) => r.movieId).sort((a, b) => a - b)).toEqual([...movies.slice(0, 20)].sort((a, b) => a - b));
  });

  it("POST /recs stores nothing, excludes the whole history and validates like the ratings route", async () => {
    const history = [
      { movieId: movies[0], rating: 5 },
      { movieId: movies[1], rating: 2 },
    ];
    const res = await post("/recs", { history, k: 5 });
    expect(res.status).toBe(200);
    const body = await res.json<RecsBody>();
    expect(body).toMatchObject({ model: "fixture-v1", k: 5, source: "fold-in" });
    expect(body.recommendations).toHaveLength(5);
    for (const r of body.recommendations) expect([movies[0], movies[1]]).not.toContain(r.movieId);
    for (const [payload, status] of [
      [{ history: history, k: 0 }, 400],
      [{ history: history, k: "5" }, 400],
      [{ history: [{ movieId: 0 }] }, 400],
      [{ history, extra: 1 }, 400],
      ["nope", 400],
    ] as const) {
      const r = await post("/recs", payload);
      expect(r.status).toBe(status);
      expect((await r.json<ErrorBody>()).message.length).toBeGreaterThan(0);
    }
    expect((await post("/recs", { history: [{ movieId: movies[0] }], pad: "x".repeat(1024 * 1024) })).status).toBe(413);
  });

  it("tries D1 again when it reports a transient failure (a locked local file), and answers as usual", async () => {
    let failures = 2;
    const attempts: string[] = [];
    const flaky = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "prepare")
          return (sql: string) => {
            // the A/B experiment's read and the served list's record (docs/loop.md) are not the user's data
            if (/\b(FROM experiment|INTO served)\b/.test(sql)) return target.prepare(sql);
            attempts.push(sql.slice(0, 6));
            if (failures-- > 0) throw new Error("D1_ERROR: database is locked: SQLITE_BUSY");
            return target.prepare(sql);
          };
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const user = data.users[3];
    const res = await call(`/users/${user}/recs`, { headers: auth }, { ...secured, DB: flaky });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-live-history")).toBeNull();
    // two failed attempts, then the batch's two reads (the live ratings, whether the user is forgotten)
    expect(attempts).toEqual(["SELECT", "SELECT", "SELECT", "SELECT"]);
    failures = 2;
    const write = await post(`/users/${user}/ratings`, { ratings: [{ movieId: movies[0], rating: 5 }] }, { ...secured, DB: flaky });
    expect(write.status).toBe(200);
  });

  it("refuses a rating with 503 and Retry-After when D1 stays busy through the retries (a publication writing), and stores nothing", async () => {
    const busy = new Proxy(env.DB, {
      get(target, prop) {
        if (prop === "prepare")
          return () => {
            throw new Error("D1_ERROR: database is locked: SQLITE_BUSY (extended: SQLITE_BUSY_SNAPSHOT): Failed to get session commit token");
          };
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const user = newUser(7);
    const write = await post(`/users/${user}/ratings`, { ratings: [{ movieId: movies[0], rating: 5 }] }, { ...secured, DB: busy });
    expect(write.status).toBe(503);
    expect(Number(write.headers.get("retry-after"))).toBeGreaterThan(0);
    const err = await write.json<ErrorBody>();
    expect(err.error).toBe("live_store_unavailable");
    expect(err.message).toMatch(/busy.*nothing was stored/);
    expect(err.message).not.toMatch(/SQLITE/);
    // the same request once D1 is free again: stored, and readable
    expect((await post(`/users/${user}/ratings`, { ratings: [{ movieId: movies[0], rating: 5 }] })).status).toBe(200);
    const read = await call(`/users/${user}/ratings`, { headers: auth });
    expect((await read.json<{ ratings: { movieId: number }[] }>()).ratings.map((r) => r.movieId)).toEqual([movies[0]]);
  });

  it("degrades to the snapshot when D1 is unavailable, and refuses writes with 503", async () => {
    const broken = {
      prepare: () => {
        throw new Error("D1_ERROR: database unavailable");
      },
    } as unknown as D1Database;
    const logged = vi.spyOn(log, "error").mockImplementation(() => {});
    const user = data.users[2];
    const res = await call(`/users/${user}/recs`, { headers: auth }, { ...secured, DB: broken });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-live-history")).toBe("unavailable");
    expect((await res.json<RecsBody>()).source).toBe("model");
    const write = await post(`/users/${user}/ratings`, { ratings: [{ movieId: movies[0], rating: 5 }] }, { ...secured, DB: broken });
    expect(write.status).toBe(503);
    const err = await write.json<ErrorBody>();
    expect(err.error).toBe("live_store_unavailable");
    expect(err.message).not.toMatch(/D1_ERROR/);
    expect((await call(`/users/${newUser(6)}/recs`, { headers: auth }, { ...secured, DB: broken })).status).toBe(503);
    // each failed read and write is logged with D1's own error, which the answers never show
    expect(logged).toHaveBeenCalledTimes(3);
    for (const [message, err] of logged.mock.calls) {
      expect(message).toBe("D1 error");
      expect(err).toMatchObject({ message: "D1_ERROR: database unavailable" });
    }
  });
});
