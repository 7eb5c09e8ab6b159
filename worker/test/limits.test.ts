// Rate limits through the [[ratelimits]] bindings of wrangler.toml (Miniflare's simulation of
// Cloudflare's Rate Limiting), counted per user token or per client address, separately for reads,
// writes and POST /recs; and the per-user ratings quota.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { bundles, fixtureData, publish } from "./seed.ts";
import { SECURED, asAdmin, asUser, freshApp, recordErrors, uniqueUser } from "./trust-helpers.ts";

interface ErrorBody {
  error: string;
  message: string;
}

/** Calls `request` until it answers 429 (at most `cap` times); the 429 and how many came before it. */
async function untilLimited(request: () => Promise<Response>, cap: number): Promise<{ limited: Response; served: number }> {
  for (let n = 0; n < cap; n++) {
    const res = await request();
    if (res.status === 429) return { limited: res, served: n };
    expect(res.status).toBeLessThan(400);
  }
  throw new Error(`no 429 after ${cap} requests`);
}

async function expectRateLimited(res: Response): Promise<void> {
  expect(res.status).toBe(429);
  const wait = Number(res.headers.get("retry-after"));
  expect(wait).toBeGreaterThanOrEqual(1);
  expect(wait).toBeLessThanOrEqual(60);
  expect(res.headers.get("content-type")).toMatch(/application\/json/);
  const body = await res.json<ErrorBody>();
  expect(body.error).toBe("rate_limited");
  expect(body.message).toMatch(/try again in \d+ s/);
}

const hex = () => Math.floor(Math.random() * 0xffff).toString(16);
/** An address no other test uses (documentation prefix 2001:db8::/32). */
const randomIp = () => `2001:db8::${hex()}:${hex()}:${hex()}`;

describe("rate limits", () => {
  const [v1] = bundles();
  const data = fixtureData(v1);
  const movie = data.items[2];

  beforeAll(async () => {
    await publish(env.MODELS, v1);
  });

  it("limits one user's writes, then answers 429 with Retry-After, while other users and that user's reads go on", async () => {
    const { call } = freshApp();
    const user = uniqueUser();
    const auth = await asUser(user);
    const write = () => call(`/users/${user}/ratings/${movie}`, { method: "DELETE", headers: auth });
    const { limited, served } = await untilLimited(write, 400);
    expect(served).toBeGreaterThan(0);
    await expectRateLimited(limited);
    const other = uniqueUser();
    expect((await call(`/users/${other}/ratings/${movie}`, { method: "DELETE", headers: await asUser(other) })).status).toBe(200);
    expect((await call(`/users/${user}/ratings`, { headers: auth })).status).toBe(200);
    // the admin token is the operator's: never limited
    expect((await call(`/users/${user}/ratings/${movie}`, { method: "DELETE", headers: asAdmin })).status).toBe(200);
  });

  it("limits anonymous POST /recs per client address (CF-Connecting-IP), apart from reads", async () => {
    const { call, send } = freshApp();
    const open = { PUBLIC_RECS: "off", API_TOKEN: undefined, USER_TOKEN_SECRET: undefined };
    const ip = randomIp();
    const recs = () => send("POST", "/recs", { history: [{ movieId: movie }], k: 3 }, { "cf-connecting-ip": ip }, open);
    const { limited, served } = await untilLimited(recs, 600);
    expect(served).toBeGreaterThan(0);
    await expectRateLimited(limited);
    expect((await send("POST", "/recs", { history: [{ movieId: movie }], k: 3 }, { "cf-connecting-ip": randomIp() }, open)).status).toBe(200);
    expect((await call(`/movies/${movie}`, { headers: { "cf-connecting-ip": ip } }, open)).status).toBe(200);
  });

  it("limits anonymous reads per client address", async () => {
    const { call } = freshApp();
    const open = { API_TOKEN: undefined, USER_TOKEN_SECRET: undefined };
    const ip = randomIp();
    const { limited } = await untilLimited(() => call(`/movies/${movie}`, { headers: { "cf-connecting-ip": ip } }, open), 3000);
    await expectRateLimited(limited);
    expect((await call(`/movies/${movie}`, { headers: { "cf-connecting-ip": randomIp() } }, open)).status).toBe(200);
  });
});

describe("the ratings quota", () => {
  const [v1] = bundles();
  const movies = fixtureData(v1).items;

  beforeAll(async () => {
    await publish(env.MODELS, v1);
  });

  it("refuses ratings past RATINGS_QUOTA with 403 quota_exceeded, storing nothing; re-ratings still pass", async () => {
    const { call, send } = freshApp();
    const user = uniqueUser();
    const auth = await asUser(user);
    const bindings = { ...SECURED, RATINGS_QUOTA: "3" };
    const rate = (ids: number[], rating = 4) =>
      send("POST", `/users/${user}/ratings`, { ratings: ids.map((movieId) => ({ movieId, rating })) }, auth, bindings);
    expect((await rate([movies[0], movies[1]])).status).toBe(200);
    const over = await rate([movies[1], movies[2], movies[3]]);
    expect(over.status).toBe(403);
    const err = await over.json<ErrorBody>();
    expect(err.error).toBe("quota_exceeded");
    expect(err.message).toMatch(/stores 2 ratings and this request adds 2, over the quota of 3 \(RATINGS_QUOTA\)/);
    const stored = async () => (await (await call(`/users/${user}/ratings`, { headers: auth }, bindings)).json<{ ratings: { movieId: number }[] }>()).ratings;
    expect((await stored()).map((r) => r.movieId).sort()).toEqual([movies[0], movies[1]].sort());
    // updates of stored ratings add nothing: allowed at the quota
    expect((await rate([movies[0], movies[1], movies[2]], 5)).status).toBe(200);
    expect((await rate([movies[0]], 2)).status).toBe(200);
    expect((await rate([movies[4]])).status).toBe(403);
    expect(await stored()).toHaveLength(3);
  });

  it("answers 503 and stores nothing when D1 cannot count", async () => {
    const { send } = freshApp();
    const user = uniqueUser();
    const failingCount = new Proxy(env.DB, {
      get(target, prop) {
        // reads go through the request's D1 session (worker/src/edge/session.ts): its statements fail the same way
        if (prop === "withSession") return (from?: string) => new Proxy(target.withSession(from), this as unknown as ProxyHandler<D1DatabaseSession>);
        if (prop === "prepare")
          return (sql: string) => {
            if (sql.includes("count(*) AS stored")) throw new Error("D1_ERROR: network connection lost (test)");
            return target.prepare(sql);
          };
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const logged = recordErrors();
    const res = await send("POST", `/users/${user}/ratings`, { ratings: [{ movieId: movies[0], rating: 4 }] }, await asUser(user), {
      ...SECURED,
      DB: failingCount,
    });
    expect(res.status).toBe(503);
    expect(logged).toHaveBeenCalledTimes(1);
    logged.mockRestore();
    expect((await res.json<ErrorBody>()).error).toBe("live_store_unavailable");
    const { results } = await env.DB.prepare("SELECT count(*) AS n FROM ratings WHERE user_id = ?1").bind(user).all<{ n: number }>();
    expect(results[0].n).toBe(0);
  });
});
