// Closing the loop (docs/loop.md): every list carries a recId and an arm and is recorded in D1;
// events are idempotent and all or nothing; the metrics come from SQL over seeded rows; the A/B
// arms are assigned stably and serve the version they pin.
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { mintUserToken } from "../../training/src/contract/user-token.ts";
import { MAX_EVENTS } from "../src/api/loop-schemas.ts";
import { createApp } from "../src/app.ts";
import type { Env } from "../src/env.ts";
import { assignArm } from "../src/loop/assign.ts";
import { pruneOlderThan, writeServed } from "../src/loop/served-log.ts";
import { ModelStore } from "../src/model-store.ts";
import { bundles, fixtureData, publish } from "./seed.ts";

const TOKEN = "loop-admin";
const USER_SECRET = "user-token-secret-for-the-loop-tests-0123456789";
const userToken = async (user: number) => (await mintUserToken(USER_SECRET, user, 3600)).token;
let app = createApp(new ModelStore());

/** Calls the app as the Worker would, then waits for what it left running (the served-list write). */
async function call(path: string, init: RequestInit = {}, bindings: Partial<Env> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const headers = new Headers(init.headers);
  // the admin token, unless the test chose a header or configured no token at all
  if (!headers.has("authorization") && bindings.API_TOKEN !== "") headers.set("authorization", `Bearer ${TOKEN}`);
  if (init.body) headers.set("content-type", "application/json");
  const res = await app.request(path, { ...init, headers }, { ...env, API_TOKEN: TOKEN, LOOP_EXPERIMENT_CACHE_SECONDS: "0", ...bindings }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}
const send = (method: string, path: string, body: unknown, bindings: Partial<Env> = {}) => call(path, { method, body: JSON.stringify(body) }, bindings);

interface Recs {
  model: string;
  recId: string;
  arm: string;
  recommendations: { movieId: number }[];
}
interface ServedRow {
  rec_id: string;
  user_id: number | null;
  arm: string;
  model: string;
  new_user: number;
  shown: number;
  movies: string | null;
}

const [v1, v2, ease] = bundles();
const users = fixtureData(v1).users;
const items = fixtureData(v1).items;

async function clearLoop(): Promise<void> {
  await env.DB.batch([
    env.DB.prepare("DELETE FROM served"),
    env.DB.prepare("DELETE FROM events"),
    env.DB.prepare("DELETE FROM experiment"),
    env.DB.prepare("DELETE FROM ratings"),
  ]);
}

beforeEach(async () => {
  await clearLoop();
  await publish(env.MODELS, v1);
  app = createApp(new ModelStore());
});

const event = (id: string, over: Record<string, unknown> = {}) => ({
  id,
  userId: users[0],
  movieId: items[0],
  type: "impression",
  recId: "list-1",
  ts: 1_764_800_000,
  ...over,
});

describe("every list is traceable", () => {
  it("answers GET /users/:id/recs and POST /recs with a unique recId and the arm, and records each list in D1", async () => {
    const a = await (await call(`/users/${users[0]}/recs?k=4`)).json<Recs>();
    const b = await (await call(`/users/${users[0]}/recs?k=4`)).json<Recs>();
    const c = await (await send("POST", "/recs", { history: [{ movieId: items[0], rating: 5 }], k: 3 })).json<Recs>();
    expect(new Set([a.recId, b.recId, c.recId]).size).toBe(3);
    expect([a.arm, b.arm, c.arm]).toEqual(["default", "default", "default"]);
    const rows = (await env.DB.prepare("SELECT * FROM served ORDER BY served_at, rec_id").all<ServedRow>()).results;
    const byId = new Map(rows.map((r) => [r.rec_id, r]));
    expect(byId.get(a.recId)).toMatchObject({ user_id: users[0], arm: "default", model: "fixture-v1", new_user: 0, shown: 4 });
    expect(JSON.parse(byId.get(a.recId)?.movies ?? "null")).toEqual(a.recommendations.map((r) => r.movieId));
    expect(byId.get(c.recId)).toMatchObject({ user_id: null, arm: "default", new_user: 1, shown: 3 });
  });

  it("records lists served together in one batch, each once with its own user, size and movies", async () => {
    // served at the same time (as concurrent requests are), each with its own ExecutionContext:
    // the first request's waitUntil writes the batch, the others have nothing left to wait for
    const ctxs = [0, 1, 2].map(() => createExecutionContext());
    const bindings = { ...env, API_TOKEN: TOKEN, LOOP_EXPERIMENT_CACHE_SECONDS: "0" };
    const headers = { authorization: `Bearer ${TOKEN}` };
    const answers = await Promise.all(
      [users[0], users[1], users[2]].map(async (user, n) => (await app.request(`/users/${user}/recs?k=${n + 2}`, { headers }, bindings, ctxs[n])).json<Recs>()),
    );
    await Promise.all(ctxs.map((ctx) => waitOnExecutionContext(ctx)));
    const rows = (await env.DB.prepare("SELECT * FROM served").all<ServedRow>()).results;
    expect(rows).toHaveLength(3);
    const byId = new Map(rows.map((r) => [r.rec_id, r]));
    answers.forEach((a, n) => {
      expect(byId.get(a.recId)).toMatchObject({ user_id: users[n], arm: "default", model: "fixture-v1", new_user: 0, shown: n + 2 });
      expect(JSON.parse(byId.get(a.recId)?.movies ?? "null")).toEqual(a.recommendations.map((r) => r.movieId));
    });
    // a batch written twice (a retried write) stores each list once
    await writeServed(env.DB, [[answers[0].recId, 7, null, "default", "m", 1, 1, "[1]", 100]]);
    expect((await env.DB.prepare("SELECT COUNT(*) AS n FROM served").first<{ n: number }>())?.n).toBe(3);
  });

  it("keeps the movie ids of no list with LOOP_LIST_SAMPLE=0, and still records every list", async () => {
    const a = await (await call(`/users/${users[1]}/recs?k=2`, {}, { LOOP_LIST_SAMPLE: "0" })).json<Recs>();
    const row = await env.DB.prepare("SELECT * FROM served WHERE rec_id = ?1").bind(a.recId).first<ServedRow>();
    expect(row).toMatchObject({ shown: 2, movies: null });
  });
});

describe("POST /events", () => {
  it("stores a retried batch once and says how many were new and how many duplicates", async () => {
    const batch = { events: [event("e1"), event("e2", { type: "click" }), event("e3", { type: "play" })] };
    const first = await send("POST", "/events", batch);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ received: 3, stored: 3, duplicates: 0 });
    const retry = await send("POST", "/events", { events: [...batch.events, event("e4", { type: "dismiss" }), event("e4", { type: "dismiss" })] });
    expect(await retry.json()).toEqual({ received: 5, stored: 1, duplicates: 4 });
    const { n } = (await env.DB.prepare("SELECT COUNT(*) AS n FROM events").first<{ n: number }>()) ?? { n: -1 };
    expect(n).toBe(4);
  });

  it("stores nothing of a batch with one bad event, and names it", async () => {
    const res = await send("POST", "/events", { events: [event("ok1"), event("bad", { type: "purchase" }), event("ok2")] });
    expect(res.status).toBe(400);
    expect((await res.json<{ message: string }>()).message).toMatch(/events\[1\]\.type/);
    const { n } = (await env.DB.prepare("SELECT COUNT(*) AS n FROM events").first<{ n: number }>()) ?? { n: -1 };
    expect(n).toBe(0);
  });

  it(`refuses a batch over ${MAX_EVENTS} events, unknown fields, and callers without the token`, async () => {
    const big = { events: Array.from({ length: MAX_EVENTS + 1 }, (_, i) => event(`b${i}`)) };
    expect((await send("POST", "/events", big)).status).toBe(400);
    expect((await send("POST", "/events", { events: [{ ...event("x"), price: 3 }] })).status).toBe(400);
    expect((await call("/events", { method: "POST", body: JSON.stringify({ events: [event("y")] }), headers: { authorization: "Bearer wrong" } })).status).toBe(
      401,
    );
    expect((await send("POST", "/events", { events: [event("z")] }, { API_TOKEN: "" })).status).toBe(403);
    const { n } = (await env.DB.prepare("SELECT COUNT(*) AS n FROM events").first<{ n: number }>()) ?? { n: -1 };
    expect(n).toBe(0);
  });
});

describe("retention", () => {
  it("deletes served lists and events older than the cutoff, and nothing newer", async () => {
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO served (rec_id, user_id, arm, model, new_user, shown, served_at) VALUES ('old', 1, 'default', 'm', 0, 1, 100), ('new', 1, 'default', 'm', 0, 1, 300)",
      ),
      env.DB.prepare(
        "INSERT INTO events (id, user_id, movie_id, type, rec_id, ts, received_at) VALUES ('o', 1, 1, 'click', 'old', 100, 100), ('n', 1, 1, 'click', 'new', 300, 300)",
      ),
    ]);
    await pruneOlderThan(env.DB, 200);
    expect((await env.DB.prepare("SELECT rec_id FROM served").all()).results).toEqual([{ rec_id: "new" }]);
    expect((await env.DB.prepare("SELECT id FROM events").all()).results).toEqual([{ id: "n" }]);
  });
});

describe("GET /admin/metrics", () => {
  const DAY = 86400;
  const t0 = 1_764_806_400; // a midnight UTC

  /** Two arms' lists on two days, their events, and ratings that do and do not convert. */
  async function seed(): Promise<void> {
    const served = (recId: string, user: number | null, arm: string, model: string, newUser: number, at: number) =>
      env.DB.prepare(
        "INSERT INTO served (rec_id, user_id, experiment, arm, model, new_user, shown, movies, served_at) VALUES (?1, ?2, 'x', ?3, ?4, ?5, 3, NULL, ?6)",
      ).bind(recId, user, arm, model, newUser, at);
    const ev = (id: string, user: number, movie: number, type: string, recId: string, ts: number) =>
      env.DB.prepare("INSERT INTO events (id, user_id, movie_id, type, rec_id, ts, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)").bind(
        id,
        user,
        movie,
        type,
        recId,
        ts,
      );
    const rating = (user: number, movie: number, r: number, at: number) =>
      env.DB.prepare("INSERT INTO ratings (user_id, movie_id, rating, rated_at) VALUES (?1, ?2, ?3, ?4)").bind(user, movie, r, at);
    await env.DB.batch([
      served("a1", 1, "control", "m1", 0, t0 + 100),
      served("a2", 2, "control", "m1", 1, t0 + DAY + 100),
      served("b1", 3, "treatment", "m2", 0, t0 + 200),
      // outside the range
      served("old", 4, "control", "m1", 0, t0 - DAY),
      // control: 4 impressions of 3 movies (movie 10 twice to user 1), 1 click
      ev("i1", 1, 10, "impression", "a1", t0 + 110),
      ev("i2", 1, 11, "impression", "a1", t0 + 110),
      ev("i3", 1, 10, "impression", "a1", t0 + 500),
      ev("c1", 1, 10, "click", "a1", t0 + 120),
      ev("i4", 2, 12, "impression", "a2", t0 + DAY + 110),
      // treatment: 2 impressions, 2 clicks
      ev("i5", 3, 10, "impression", "b1", t0 + 210),
      ev("i6", 3, 13, "impression", "b1", t0 + 210),
      ev("c2", 3, 10, "click", "b1", t0 + 220),
      ev("c3", 3, 13, "click", "b1", t0 + 230),
      // an event of no recorded list
      ev("u1", 5, 10, "impression", "nowhere", t0 + 300),
      // conversions: user 1 rated movie 10 a 5 an hour after; movie 11 a 3 (not >= 4)
      rating(1, 10, 5, t0 + 110 + 3600),
      rating(1, 11, 3, t0 + 110 + 3600),
      // user 2 rated movie 12 a 5, but 8 days after (outside the 168 h window)
      rating(2, 12, 5, t0 + DAY + 110 + 8 * DAY),
      // user 3 rated movie 13 a 4 before the impression: not a conversion
      rating(3, 13, 4, t0),
    ]);
  }

  it("gives per arm and model the lists, impressions, clicks, CTR, conversions, coverage and new-user share", async () => {
    await seed();
    const res = await call(`/admin/metrics?from=${t0}&to=${t0 + 2 * DAY}&bucket=day`);
    expect(res.status).toBe(200);
    const body = await res.json<{
      catalogue: number;
      unattributed: number;
      arms: Record<string, unknown>[];
      series: Record<string, unknown>[];
    }>();
    expect(body.catalogue).toBe(items.length);
    expect(body.unattributed).toBe(1);
    expect(body.arms).toEqual([
      {
        arm: "control",
        model: "m1",
        lists: 2,
        impressions: 4,
        clicks: 1,
        ctr: 0.25,
        conversions: 1,
        // distinct (user, movie) shown: (1,10), (1,11), (2,12)
        conversionRate: 1 / 3,
        newUserShare: 0.5,
        moviesShown: 3,
        coverage: 3 / items.length,
      },
      {
        arm: "treatment",
        model: "m2",
        lists: 1,
        impressions: 2,
        clicks: 2,
        ctr: 1,
        conversions: 0,
        conversionRate: 0,
        newUserShare: 0,
        moviesShown: 2,
        coverage: 2 / items.length,
      },
    ]);
    // per day: control on both days, treatment on the first
    expect(body.series.map((p) => [p.t, p.arm, p.lists, p.impressions, p.clicks])).toEqual([
      [t0, "control", 1, 3, 1],
      [t0, "treatment", 1, 2, 2],
      [t0 + DAY, "control", 1, 1, 0],
    ]);
  });

  it("counts by default a list served and events stamped this very second", async () => {
    const now = Math.floor(Date.now() / 1000);
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO served (rec_id, user_id, experiment, arm, model, new_user, shown, movies, served_at) VALUES ('now', 1, 'x', 'default', 'm1', 0, 1, NULL, ?1)",
      ).bind(now),
      env.DB.prepare("INSERT INTO events (id, user_id, movie_id, type, rec_id, ts, received_at) VALUES ('n1', 1, 10, 'impression', 'now', ?1, ?1)").bind(now),
    ]);
    const body = await (await call("/admin/metrics")).json<{ to: number; arms: { lists: number; impressions: number }[] }>();
    expect(body.to).toBeGreaterThan(now);
    expect(body.arms).toEqual([expect.objectContaining({ lists: 1, impressions: 1 })]);
  });

  it("takes ISO dates, and refuses a reversed range, an unknown bucket and callers without the admin token", async () => {
    await seed();
    const iso = await call(`/admin/metrics?from=${new Date(t0 * 1000).toISOString()}&to=${new Date((t0 + 2 * DAY) * 1000).toISOString()}`);
    expect((await iso.json<{ arms: unknown[] }>()).arms).toHaveLength(2);
    expect((await call(`/admin/metrics?from=${t0 + DAY}&to=${t0}`)).status).toBe(400);
    expect((await call(`/admin/metrics?bucket=week`)).status).toBe(400);
    expect((await call(`/admin/metrics?from=yesterday`)).status).toBe(400);
    expect((await call("/admin/metrics", { headers: { authorization: "Bearer nope" } })).status).toBe(401);
  });
});

describe("A/B arms", () => {
  const experiment = {
    name: "v1-vs-v2",
    arms: [
      { name: "control", share: 0.5, version: null },
      { name: "treatment", share: 0.5, version: "fixture-v1" },
    ],
  };

  it("respects the shares over many ids, and reshuffles under another experiment name", async () => {
    const three = {
      name: "three",
      arms: [
        { name: "a", share: 0.2, version: null },
        { name: "b", share: 0.3, version: null },
        { name: "c", share: 0.5, version: null },
      ],
    };
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    const N = 20_000;
    for (let id = 1; id <= N; id++) counts[(await assignArm(three, id)).name]++;
    // binomial standard deviation at N = 20,000 is under 0.0036: 0.02 is over 5 of them
    expect(Math.abs(counts.a / N - 0.2)).toBeLessThan(0.02);
    expect(Math.abs(counts.b / N - 0.3)).toBeLessThan(0.02);
    expect(Math.abs(counts.c / N - 0.5)).toBeLessThan(0.02);
    let moved = 0;
    for (let id = 1; id <= 1000; id++) if ((await assignArm(three, id)).name !== (await assignArm({ ...three, name: "three-again" }, id)).name) moved++;
    expect(moved).toBeGreaterThan(300);
  });

  it("gives a user the same arm from two app instances (two isolates), and serves the version the arm pins", async () => {
    await publish(env.MODELS, v2);
    const put = await send("PUT", "/admin/experiment", experiment);
    expect(put.status).toBe(200);
    const other = createApp(new ModelStore());
    const sample = users.slice(0, 24);
    const armsSeen = new Set<string>();
    for (const user of sample) {
      const first = await (await call(`/users/${user}/recs?k=3`)).json<Recs>();
      const expected = await assignArm(experiment, user);
      app = other;
      const second = await (await call(`/users/${user}/recs?k=3`)).json<Recs>();
      app = createApp(new ModelStore());
      expect([first.arm, second.arm]).toEqual([expected.name, expected.name]);
      // control serves models/current.json (fixture-v2), treatment the pinned fixture-v1
      const model = expected.name === "treatment" ? "fixture-v1" : "fixture-v2";
      expect([first.model, second.model]).toEqual([model, model]);
      armsSeen.add(first.arm);
    }
    expect(armsSeen).toEqual(new Set(["control", "treatment"]));
    // the lists are recorded under their arm and model
    const rows = (await env.DB.prepare("SELECT arm, model, COUNT(*) AS n FROM served GROUP BY arm, model ORDER BY arm").all()).results;
    expect(rows.map((r) => [r.arm, r.model])).toEqual([
      ["control", "fixture-v2"],
      ["treatment", "fixture-v1"],
    ]);
  });

  it("serves every arm from the current model again once the experiment is deleted", async () => {
    // the EASE bundle published (its files in R2), then fixture-v1 made current again
    await publish(env.MODELS, ease);
    await publish(env.MODELS, v1);
    const put = await send("PUT", "/admin/experiment", { ...experiment, arms: [{ name: "all", share: 1, version: "fixture-ease" }] });
    expect(put.status).toBe(200);
    const pinned = await (await call(`/users/${users[0]}/recs?k=3`)).json<Recs>();
    expect([pinned.arm, pinned.model]).toEqual(["all", ease.version]);
    const del = await call("/admin/experiment", { method: "DELETE" });
    expect(await del.json()).toEqual({ experiment: null, updatedAt: null });
    const after = await (await call(`/users/${users[0]}/recs?k=3`)).json<Recs>();
    expect([after.arm, after.model]).toEqual(["default", "fixture-v1"]);
  });

  it("refuses shares that do not add up to 1, repeated names, two pinned versions and unpublished ones, changing nothing", async () => {
    await send("PUT", "/admin/experiment", experiment);
    const bad = [
      {
        name: "x",
        arms: [
          { name: "a", share: 0.5, version: null },
          { name: "b", share: 0.4, version: null },
        ],
      },
      {
        name: "x",
        arms: [
          { name: "a", share: 0.5, version: null },
          { name: "a", share: 0.5, version: null },
        ],
      },
      {
        name: "x",
        arms: [
          { name: "a", share: 0.5, version: "fixture-v1" },
          { name: "b", share: 0.5, version: "fixture-ease" },
        ],
      },
      { name: "x", arms: [{ name: "a", share: 1, version: "never-published" }] },
      { name: "x", arms: [] },
    ];
    for (const body of bad) {
      const res = await send("PUT", "/admin/experiment", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    // a Worker whose versions do not fit twice holds no second one
    const pinned = await send("PUT", "/admin/experiment", experiment, { MODEL_SWAP: "release-first" });
    expect(pinned.status).toBe(400);
    expect((await pinned.json<{ message: string }>()).message).toMatch(/release-first/);
    const state = await (await call("/admin/experiment")).json<{ experiment: unknown }>();
    expect(state.experiment).toEqual(experiment);
  });
});

describe("who may call the loop's routes", () => {
  const withUsers = { USER_TOKEN_SECRET: USER_SECRET };
  const asUser = async (user: number) => ({ authorization: `Bearer ${await userToken(user)}` });
  const countEvents = async () => ((await env.DB.prepare("SELECT COUNT(*) AS n FROM events").first<{ n: number }>()) ?? { n: -1 }).n;

  it("lets a user token post its own events, and refuses a whole batch holding another user's", async () => {
    const me = users[0];
    const headers = await asUser(me);
    const own = await call("/events", { method: "POST", headers, body: JSON.stringify({ events: [event("mine-1", { userId: me })] }) }, withUsers);
    expect(own.status).toBe(200);
    expect(await own.json()).toEqual({ received: 1, stored: 1, duplicates: 0 });
    const mixed = { events: [event("mine-2", { userId: me }), event("theirs", { userId: users[1] })] };
    const refused = await call("/events", { method: "POST", headers, body: JSON.stringify(mixed) }, withUsers);
    expect(refused.status).toBe(403);
    expect((await refused.json<{ message: string }>()).message).toMatch(/events\[1\]\.userId.*nothing was stored/);
    expect(await countEvents()).toBe(1);
    // the admin token posts anyone's
    expect((await send("POST", "/events", { events: [event("theirs", { userId: users[1] })] }, withUsers)).status).toBe(200);
    expect(await countEvents()).toBe(2);
  });

  it("keeps the metrics and the experiment to the admin token", async () => {
    const headers = await asUser(users[0]);
    expect((await call("/admin/metrics", { headers }, withUsers)).status).toBe(403);
    expect((await call("/admin/experiment", { headers }, withUsers)).status).toBe(403);
    const put = { name: "x", arms: [{ name: "a", share: 1, version: null }] };
    expect((await call("/admin/experiment", { method: "PUT", headers, body: JSON.stringify(put) }, withUsers)).status).toBe(403);
    expect((await call("/admin/experiment", {}, withUsers)).status).toBe(200);
  });

  it("assigns POST /recs of a user token to that user's arm; the admin's and anonymous lists are 'default'", async () => {
    const exp = {
      name: "recs-arms",
      arms: [
        { name: "left", share: 0.5, version: null },
        { name: "right", share: 0.5, version: null },
      ],
    };
    expect((await send("PUT", "/admin/experiment", exp, withUsers)).status).toBe(200);
    const body = JSON.stringify({ history: [{ movieId: items[0], rating: 5 }], k: 3 });
    for (const user of users.slice(0, 6)) {
      const res = await call("/recs", { method: "POST", headers: await asUser(user), body }, withUsers);
      expect((await res.json<Recs>()).arm).toBe((await assignArm(exp, user)).name);
    }
    expect((await (await call("/recs", { method: "POST", body }, withUsers)).json<Recs>()).arm).toBe("default");
  });
});
