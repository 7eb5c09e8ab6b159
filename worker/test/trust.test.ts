// Per-user tokens and roles: a user token reaches only its own user's data, the admin token
// everything, anonymous callers what PUBLIC_RECS allows; tokens minted by POST /admin/tokens.
import { env } from "cloudflare:test";
import { sign } from "hono/jwt";
import { beforeAll, describe, expect, it } from "vitest";
import { bundles, fixtureData, publish } from "./seed.ts";
import { ADMIN_TOKEN, BROKEN_DB, SECURED, USER_SECRET, asAdmin, asUser, bearer, freshApp, recordErrors, userToken } from "./trust-helpers.ts";

interface Rec {
  movieId: number;
  title: string;
  score?: number;
  because?: unknown;
}
interface RecsBody {
  user: number;
  k: number;
  source?: string;
  recommendations: Rec[];
}
interface ErrorBody {
  error: string;
  message: string;
}

describe("per-user tokens and roles", () => {
  const [v1] = bundles();
  const data = fixtureData(v1);
  const [alice, bob] = [data.users[0], data.users[1]];
  const movie = data.items[5];

  beforeAll(async () => {
    await publish(env.MODELS, v1);
  });

  it("lets a user token read its own recommendations with reasons, and its own ratings", async () => {
    const { call, send } = freshApp();
    const auth = await asUser(alice);
    const res = await call(`/users/${alice}/recs?k=5`, { headers: auth });
    expect(res.status).toBe(200);
    const body = await res.json<RecsBody>();
    expect(body.recommendations).toHaveLength(5);
    expect(body.recommendations.some((r) => r.because)).toBe(true);
    expect((await send("POST", `/users/${alice}/ratings`, { ratings: [{ movieId: movie, rating: 4 }] }, auth)).status).toBe(200);
    const ratings = await call(`/users/${alice}/ratings`, { headers: auth });
    expect(ratings.status).toBe(200);
    expect((await ratings.json<{ ratings: { movieId: number }[] }>()).ratings.map((r) => r.movieId)).toContain(movie);
    expect((await call(`/users/${alice}/ratings/${movie}`, { method: "DELETE", headers: auth })).status).toBe(200);
  });

  it("answers 403 to a user token on anyone else's recommendations, ratings, deletion, and changes nothing", async () => {
    const { call, send } = freshApp();
    const auth = await asUser(alice);
    await send("POST", `/users/${bob}/ratings`, { ratings: [{ movieId: movie, rating: 2 }] }, asAdmin);
    const attempts: [string, string, unknown?][] = [
      ["GET", `/users/${bob}/recs`],
      ["GET", `/users/${bob}/ratings`],
      ["POST", `/users/${bob}/ratings`, { ratings: [{ movieId: movie, rating: 5 }] }],
      ["DELETE", `/users/${bob}/ratings/${movie}`],
      ["DELETE", `/users/${bob}`],
      ["GET", `/users/00${bob}/ratings`],
    ];
    for (const [method, path, body] of attempts) {
      const res = await (body ? send(method, path, body, auth) : call(path, { method, headers: auth }));
      expect(res.status, `${method} ${path}`).toBe(403);
      const err = await res.json<ErrorBody>();
      expect(err.error).toBe("forbidden");
      expect(err.message).toMatch(new RegExp(`user ${alice}`));
    }
    const stored = await (await call(`/users/${bob}/ratings`, { headers: asAdmin })).json<{ ratings: { movieId: number; rating: number }[] }>();
    expect(stored.ratings).toEqual([expect.objectContaining({ movieId: movie, rating: 2 })]);
    await call(`/users/${bob}/ratings/${movie}`, { method: "DELETE", headers: asAdmin });
  });

  it("lets a user token call the routes about no user (movies, POST /recs), and refuses it /admin", async () => {
    const { call, send } = freshApp();
    const auth = await asUser(alice);
    expect((await call(`/movies/${movie}`, { headers: auth })).status).toBe(200);
    expect((await send("POST", "/recs", { history: [{ movieId: movie }] }, auth)).status).toBe(200);
    const admin = await call("/admin/audit", { headers: auth });
    expect(admin.status).toBe(403);
    expect((await send("POST", "/admin/tokens", { user: bob }, auth)).status).toBe(403);
  });

  it("refuses tokens that are forged, expired, without an expiry, or not Bearer, with 401", async () => {
    const { call } = freshApp();
    const path = `/users/${alice}/recs`;
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, Record<string, string>, RegExp][] = [
      ["another secret", bearer(await userToken(alice, 3600, undefined, "some-other-secret-of-enough-length-0123456789")), /not valid/],
      ["expired", bearer(await userToken(alice, 60, now - 3600)), /expired/],
      ["no expiry", bearer(await sign({ sub: String(alice) }, USER_SECRET, "HS256")), /no expiry/],
      ["no user", bearer(await sign({ sub: "bob", exp: now + 600 }, USER_SECRET, "HS256")), /names no user/],
      ["alg none", bearer(`${btoa('{"alg":"none","typ":"JWT"}')}.${btoa(`{"sub":"${alice}","exp":${now + 600}}`)}.`), /not valid|Bearer/],
      ["Basic", { authorization: `Basic ${btoa("a:b")}` }, /Bearer/],
      ["empty Bearer", { authorization: "Bearer " }, /Bearer/],
    ];
    for (const [what, headers, message] of cases) {
      const res = await call(path, { headers });
      expect(res.status, what).toBe(401);
      const err = await res.json<ErrorBody>();
      expect(err.error, what).toBe("unauthorized");
      expect(err.message, what).toMatch(message);
    }
    // with no secret at all, a header that is there but wrong is still refused, not ignored
    const unsecured = { API_TOKEN: undefined, USER_TOKEN_SECRET: undefined, PUBLIC_RECS: "open" };
    for (const authorization of [`Basic ${btoa("a:b")}`, "Bearer something"]) {
      expect((await call(path, { headers: { authorization } }, unsecured)).status, authorization).toBe(401);
    }
    expect((await call(path, {}, unsecured)).status).toBe(200);
  });

  it("lets the admin token read and write any user", async () => {
    const { call, send } = freshApp();
    expect((await call(`/users/${bob}/recs`, { headers: asAdmin })).status).toBe(200);
    expect((await send("POST", `/users/${bob}/ratings`, { ratings: [{ movieId: movie, rating: 3 }] }, asAdmin)).status).toBe(200);
    expect((await call(`/users/${bob}/ratings/${movie}`, { method: "DELETE", headers: asAdmin })).status).toBe(200);
  });

  it("mints a working user token on POST /admin/tokens, for the admin only", async () => {
    const { call, send } = freshApp();
    const res = await send("POST", "/admin/tokens", { user: bob, ttl: "2h" }, asAdmin);
    expect(res.status).toBe(200);
    const minted = await res.json<{ token: string; user: number; expiresAt: string }>();
    expect(minted.user).toBe(bob);
    const lifetime = Date.parse(minted.expiresAt) - Date.now();
    expect(lifetime).toBeGreaterThan(7190_000);
    expect(lifetime).toBeLessThanOrEqual(7200_000);
    expect((await call(`/users/${bob}/recs`, { headers: bearer(minted.token) })).status).toBe(200);
    expect((await call(`/users/${alice}/recs`, { headers: bearer(minted.token) })).status).toBe(403);
    expect((await send("POST", "/admin/tokens", { user: bob }, {})).status).toBe(401);
  });

  it("answers POST /admin/tokens with a 400 naming the field, and 503 when no secret can sign", async () => {
    const { send } = freshApp();
    for (const body of [{}, { user: 0 }, { user: "7" }, { user: 7, ttl: "forever" }, { user: 7, ttl: "400d" }, { user: 7, extra: 1 }]) {
      const res = await send("POST", "/admin/tokens", body, asAdmin);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const err = await res.json<ErrorBody>();
      expect(err.error).toBe("bad_request");
      expect(err.message.length).toBeGreaterThan(5);
    }
    const unsigned = await send("POST", "/admin/tokens", { user: 7 }, asAdmin, { API_TOKEN: ADMIN_TOKEN, USER_TOKEN_SECRET: undefined });
    expect(unsigned.status).toBe(503);
    expect(await unsigned.json<ErrorBody>()).toMatchObject({ error: "no_token_secret", message: expect.stringMatching(/USER_TOKEN_SECRET/) });
  });

  it("keeps every route but /health closed to anonymous callers when a secret is set", async () => {
    const { call } = freshApp();
    for (const path of [`/users/${alice}/recs`, `/users/${alice}/ratings`, `/movies/${movie}`, "/admin/audit", "/nope"]) {
      const res = await call(path, {}, { USER_TOKEN_SECRET: USER_SECRET, API_TOKEN: undefined });
      expect(res.status, path).toBe(401);
    }
    expect((await call("/health", {}, { USER_TOKEN_SECRET: USER_SECRET })).status).toBe(200);
  });
});

describe("anonymous recommendation reads (PUBLIC_RECS)", () => {
  const [v1] = bundles();
  const data = fixtureData(v1);
  const known = data.users[3];
  const unknown = Math.max(...data.users) + 12_345;

  beforeAll(async () => {
    await publish(env.MODELS, v1);
  });

  it("answers 401 by default (off), with or without secrets", async () => {
    const { call } = freshApp();
    for (const bindings of [SECURED, { ...SECURED, PUBLIC_RECS: undefined }, { PUBLIC_RECS: "off" }, { PUBLIC_RECS: "typo" }]) {
      const res = await call(`/users/${known}/recs`, {}, bindings);
      expect(res.status).toBe(401);
      expect((await res.json<ErrorBody>()).message).toMatch(/PUBLIC_RECS/);
    }
  });

  it("with no-reasons, answers known and unknown ids with the same status and shape, and no reasons, scores or source", async () => {
    const { call } = freshApp();
    const bindings = { ...SECURED, PUBLIC_RECS: "no-reasons" };
    const [a, b] = await Promise.all([call(`/users/${known}/recs?k=7`, {}, bindings), call(`/users/${unknown}/recs?k=7`, {}, bindings)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const [bodyA, bodyB] = [await a.json<RecsBody>(), await b.json<RecsBody>()];
    for (const [body, id] of [
      [bodyA, known],
      [bodyB, unknown],
    ] as const) {
      expect(Object.keys(body).sort()).toEqual(["arm", "k", "model", "recId", "recommendations", "user"]);
      expect(body.user).toBe(id);
      expect(body.recommendations).toHaveLength(7);
      for (const r of body.recommendations) expect(Object.keys(r).sort()).toEqual(["genres", "movieId", "title", "year"]);
    }
    expect([...a.headers.keys()].sort()).toEqual([...b.headers.keys()].sort());
    // the known user's list is still theirs: none of their rated movies
    const u = data.users.indexOf(known);
    const rated = new Set(Array.from(data.rated.indices.subarray(data.rated.indptr[u], data.rated.indptr[u + 1]), (i) => data.items[i]));
    for (const r of bodyA.recommendations) expect(rated.has(r.movieId)).toBe(false);
    // the same user with a token gets the reasons
    const own = await (await call(`/users/${known}/recs?k=7`, { headers: await asUser(known) }, bindings)).json<RecsBody>();
    expect(own.recommendations.some((r) => r.because)).toBe(true);
  });

  it("with no-reasons, still answers bad ids and k with 400, and 503 for every id alike when D1 is down", async () => {
    const { call } = freshApp();
    const bindings = { ...SECURED, PUBLIC_RECS: "no-reasons" };
    for (const path of ["/users/abc/recs", "/users/0/recs", `/users/${known}/recs?k=0`, `/users/${known}/recs?k=1&k=2`]) {
      expect((await call(path, {}, bindings)).status, path).toBe(400);
    }
    const broken = { ...bindings, DB: BROKEN_DB };
    const logged = recordErrors();
    const statuses = [(await call(`/users/${known}/recs`, {}, broken)).status, (await call(`/users/${unknown}/recs`, {}, broken)).status];
    expect(statuses).toEqual([503, 503]);
    expect(logged).toHaveBeenCalled();
    logged.mockRestore();
  });

  it("honours open (reasons, the cold-start list for unknown ids) only while no secret is set", async () => {
    const { call } = freshApp();
    const open = await call(`/users/${known}/recs`, {}, { PUBLIC_RECS: "open", API_TOKEN: undefined, USER_TOKEN_SECRET: undefined });
    expect(open.status).toBe(200);
    expect((await open.json<RecsBody>()).recommendations.some((r) => r.because)).toBe(true);
    const cold = await call(`/users/${unknown}/recs`, {}, { PUBLIC_RECS: "open" });
    expect(cold.status).toBe(200);
    expect((await cold.json<{ source: string }>()).source).toBe("popular");
    expect((await call(`/users/${known}/recs`, {}, { PUBLIC_RECS: "open", USER_TOKEN_SECRET: USER_SECRET })).status).toBe(401);
  });
});
