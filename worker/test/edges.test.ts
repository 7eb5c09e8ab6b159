// The edges: secure headers on every answer, CORS from an allowlist, a rating never replaced by
// an older one, D1 failures that answer 503 with a reason, and /health reporting D1 and the model.
import { SELF, env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app.ts";
import { ModelStore } from "../src/model-store.ts";
import { STATIC_HEADERS } from "../src/security/policy.ts";
import { bundles, fixtureData, publish } from "./seed.ts";
import { BROKEN_DB, SECURED, asUser, freshApp, recordErrors, uniqueUser } from "./trust-helpers.ts";

describe("edges", () => {
  const [v1] = bundles();
  const data = fixtureData(v1);
  const movie = data.items[7];

  beforeAll(async () => {
    await publish(env.MODELS, v1);
  });

  it("sends secure headers on answers and errors, through the real entry point", async () => {
    for (const path of ["/health", `/movies/${movie}`, "/nope"]) {
      const res = await SELF.fetch(`https://edge.test${path}`);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toMatch(/frame-ancestors 'none'/);
      expect(csp).toMatch(/script-src 'self'/);
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
      // the values the static assets' _headers carries too (one source: security/policy.ts)
      for (const [name, value] of Object.entries(STATIC_HEADERS)) expect(res.headers.get(name), name).toBe(value);
    }
  });

  it("answers CORS only for the origins in CORS_ORIGINS", async () => {
    const { call } = freshApp();
    const bindings = { CORS_ORIGINS: "https://shop.example, https://admin.example/", API_TOKEN: undefined, USER_TOKEN_SECRET: undefined };
    const allowed = await call(`/movies/${movie}`, { headers: { origin: "https://admin.example" } }, bindings);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://admin.example");
    expect(allowed.headers.get("vary")).toMatch(/Origin/i);
    const other = await call(`/movies/${movie}`, { headers: { origin: "https://evil.example" } }, bindings);
    expect(other.status).toBe(200); // the server answers; the browser withholds it from the page
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
    const preflight = await call(
      "/users/1/ratings",
      { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } },
      bindings,
    );
    expect(preflight.headers.get("access-control-allow-origin")).toBeNull();
    const none = await call(`/movies/${movie}`, { headers: { origin: "https://shop.example" } }, { ...bindings, CORS_ORIGINS: "" });
    expect(none.headers.get("access-control-allow-origin")).toBeNull();
    const any = await call(`/movies/${movie}`, { headers: { origin: "https://evil.example" } }, { ...bindings, CORS_ORIGINS: "*" });
    expect(any.headers.get("access-control-allow-origin")).toBe("*");
  });

  it("never lets an older rating replace a newer one: event time wins, ties go to the later arrival", async () => {
    const { call, send } = freshApp();
    const user = uniqueUser();
    const auth = await asUser(user);
    const rate = (rating: number, timestamp: number) => send("POST", `/users/${user}/ratings`, { ratings: [{ movieId: movie, rating, timestamp }] }, auth);
    const stored = async () =>
      (await (await call(`/users/${user}/ratings`, { headers: auth })).json<{ ratings: { rating: number; timestamp: number }[] }>()).ratings;
    expect((await rate(5, 2_000_000)).status).toBe(200);
    const late = await rate(1, 1_000_000); // sent later, happened earlier (an offline client syncing)
    expect(late.status).toBe(200);
    expect((await late.json<{ stored: number }>()).stored).toBe(0);
    expect(await stored()).toEqual([expect.objectContaining({ rating: 5, timestamp: 2_000_000 })]);
    expect((await rate(2, 2_000_000)).status).toBe(200);
    expect(await stored()).toEqual([expect.objectContaining({ rating: 2, timestamp: 2_000_000 })]);
    expect((await rate(4, 3_000_000)).status).toBe(200);
    expect(await stored()).toEqual([expect.objectContaining({ rating: 4, timestamp: 3_000_000 })]);
  });

  it("refuses a rating dated more than a day ahead, naming the entry, and stores nothing", async () => {
    // with newer-rating-wins, a rating dated next year could never be replaced
    const { call, send } = freshApp();
    const user = uniqueUser();
    const auth = await asUser(user);
    const now = Math.floor(Date.now() / 1000);
    const far = {
      ratings: [
        { movieId: movie, rating: 4, timestamp: now - 10 },
        { movieId: data.items[8], rating: 5, timestamp: now + 2 * 86_400 },
      ],
    };
    const res = await send("POST", `/users/${user}/ratings`, far, auth);
    expect(res.status).toBe(400);
    expect((await res.json<{ message: string }>()).message).toMatch(/ratings\[1\]\.timestamp.*future/);
    expect((await (await call(`/users/${user}/ratings`, { headers: auth })).json<{ ratings: unknown[] }>()).ratings).toEqual([]);
    // clock skew within a day is accepted
    expect((await send("POST", `/users/${user}/ratings`, { ratings: [{ movieId: movie, rating: 4, timestamp: now + 3600 }] }, auth)).status).toBe(200);
  });

  it("marks cacheable answers Vary: Authorization when only USER_TOKEN_SECRET is set", async () => {
    const { call } = freshApp();
    const res = await call(`/movies/${movie}`, { headers: await asUser(uniqueUser()) }, { API_TOKEN: undefined, USER_TOKEN_SECRET: SECURED.USER_TOKEN_SECRET });
    expect(res.status).toBe(200);
    expect(res.headers.get("vary") ?? "").toMatch(/Authorization/i);
  });

  it("answers every D1 write and history read with 503 and a reason when D1 fails, never a silent 200", async () => {
    const { call, send } = freshApp();
    const user = uniqueUser();
    const auth = await asUser(user);
    const broken = { ...SECURED, DB: BROKEN_DB };
    const logged = recordErrors();
    const answers = [
      await send("POST", `/users/${user}/ratings`, { ratings: [{ movieId: movie, rating: 4 }] }, auth, broken),
      await call(`/users/${user}/ratings`, { headers: auth }, broken),
      await call(`/users/${user}/ratings/${movie}`, { method: "DELETE", headers: auth }, broken),
      await call(`/users/${user}`, { method: "DELETE", headers: auth }, broken),
    ];
    for (const res of answers) {
      expect(res.status).toBe(503);
      const body = await res.json<{ error: string; message: string }>();
      expect(body.error).toBe("live_store_unavailable");
      expect(body.message).toMatch(/D1/);
      expect(body.message).not.toMatch(/D1_ERROR/);
    }
    // each failure is logged with D1's own error, which the answers never show
    expect(logged).toHaveBeenCalledTimes(answers.length);
    logged.mockRestore();
  });

  it("reports D1's state and the model's on /health: degraded without D1, 503 with the reason without a model", async () => {
    const { call } = freshApp();
    const open = { API_TOKEN: undefined, USER_TOKEN_SECRET: undefined };
    const ok = await call("/health", {}, open);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: "ok", model: "fixture-v1", d1: "ok", users: data.users.length });
    const degraded = await call("/health", {}, { ...open, DB: BROKEN_DB });
    expect(degraded.status).toBe(200);
    expect(await degraded.json()).toMatchObject({ status: "degraded", model: "fixture-v1", d1: "unavailable" });
    const secured = await call("/health", {}, { ...SECURED, DB: BROKEN_DB });
    expect(await secured.json()).toEqual({ status: "degraded", model: "fixture-v1", similar: true, d1: "unavailable" });
    const empty = { list: async () => ({ objects: [] }), get: async () => null, head: async () => null } as unknown as R2Bucket;
    const fresh = createApp(new ModelStore());
    const none = await fresh.request("/health", {}, { ...env, ...open, MODELS: empty });
    expect(none.status).toBe(503);
    expect(await none.json()).toMatchObject({ status: "unavailable", error: "no_model", model: null, d1: "ok" });
  });
});
