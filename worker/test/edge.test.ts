// The edge topology (docs/edge.md): every request reads through one D1 session, a write hands
// its bookmark back (header, and a cookie for the page), and a request that brings it reads a
// copy at least that fresh. The replica is the one DEV_LATENCY models: a second local database
// that gets the primary's writes only after the lag (here a minute, so never during the test),
// so a read it serves is really stale and the bookmark is what makes the next read fresh.
// And the guard: DEV_LATENCY outside `wrangler dev` on loopback refuses every request.
import { applyD1Migrations, env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { app, createApp } from "../src/app.ts";
import { BOOKMARK_COOKIE, BOOKMARK_HEADER, requestBookmark } from "../src/edge/bookmark.ts";
import { DEV_MARKER, DEV_QUERIES_HEADER } from "../src/edge/names.ts";
import { isWrite, sessionDatabase } from "../src/edge/session.ts";
import { prefetchUserState, readUserState, rememberUserState, userStateInMemory } from "../src/edge/user-state.ts";
import type { Env } from "../src/env.ts";
import { ModelStore } from "../src/model-store.ts";
import { bundles, fixtureData, publish } from "./seed.ts";

const TOKEN = "edge-token";
const auth = { authorization: `Bearer ${TOKEN}` };
const replica = (env as unknown as { DB_REPLICA: D1Database }).DB_REPLICA;
/** No delays (the test times nothing), and a replica a minute behind the primary. */
const withReplica = {
  API_TOKEN: TOKEN,
  DEV_LATENCY: "d1_primary_ms=0,d1_replica_ms=0,r2_ms=0,replica_lag_ms=60000",
  EDGEREC_DEV: DEV_MARKER,
  DB_REPLICA: replica,
};
/** D1 alone: no location cache of users' state in front of it. */
const injected = { ...withReplica, USER_STATE_CACHE_SECONDS: "0" };
const cached = { API_TOKEN: TOKEN, USER_STATE_CACHE_SECONDS: "30" };

type Bindings = Partial<Env> & Record<string, unknown>;
type App = ReturnType<typeof createApp>;

function call(path: string, init: RequestInit = {}, bindings: Bindings = { API_TOKEN: TOKEN }, on: App = app): Promise<Response> {
  return Promise.resolve(on.request(path, init, { ...env, ...bindings }));
}

function rate(user: number, movieId: number, bindings: Bindings, on: App = app): Promise<Response> {
  return call(
    `/users/${user}/ratings`,
    { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ ratings: [{ movieId, rating: 5 }] }) },
    bindings,
    on,
  );
}

async function recIds(res: Response): Promise<number[]> {
  expect(res.status).toBe(200);
  return (await res.json<{ recommendations: { movieId: number }[] }>()).recommendations.map((r) => r.movieId);
}

describe("D1 sessions and bookmarks", () => {
  const [v1] = bundles();
  const data = fixtureData(v1);

  beforeAll(async () => {
    await publish(env.MODELS, v1);
    await applyD1Migrations(replica, env.TEST_MIGRATIONS);
  });

  it("hands a write's bookmark back in the header and, for the page, a cookie; a read sends no cookie", async () => {
    const write = await rate(data.users[1], data.items[2], { API_TOKEN: TOKEN });
    expect(write.status).toBe(200);
    const bookmark = write.headers.get(BOOKMARK_HEADER);
    expect(bookmark).toMatch(/^[0-9a-f]{8}-/);
    expect(write.headers.get("set-cookie")).toContain(`${BOOKMARK_COOKIE}=${bookmark};`);
    expect(write.headers.get("set-cookie")).toContain("HttpOnly");

    const read = await call(`/users/${data.users[1]}/recs`, { headers: { ...auth, [BOOKMARK_HEADER]: bookmark! } });
    expect(read.status).toBe(200);
    // the session continued from the write's bookmark: what it returns is at least as new
    expect(read.headers.get(BOOKMARK_HEADER)! >= bookmark!).toBe(true);
    expect(read.headers.get("set-cookie")).toBeNull();
  });

  it("answers 400 for a malformed bookmark header, naming it, and stores nothing", async () => {
    const user = 700_001;
    const res = await call(`/users/${user}/ratings`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json", [BOOKMARK_HEADER]: "not-a-bookmark" },
      body: JSON.stringify({ ratings: [{ movieId: data.items[0] }] }),
    });
    expect(res.status).toBe(400);
    const body = await res.json<{ error: string; message: string }>();
    expect(body.message).toContain(BOOKMARK_HEADER);
    const stored = await call(`/users/${user}/ratings`, { headers: auth });
    expect((await stored.json<{ ratings: unknown[] }>()).ratings).toEqual([]);
  });

  it("reads a stale replica without a bookmark, and the write with it, from another isolate too (header or cookie)", async () => {
    const user = data.users[7];
    const top = (await recIds(await call(`/users/${user}/recs`, { headers: auth }, injected)))[0];
    const write = await rate(user, top, injected);
    expect(write.status).toBe(200);
    expect(write.headers.get(DEV_QUERIES_HEADER)).toContain("writes=1");
    const bookmark = write.headers.get(BOOKMARK_HEADER)!;

    // no bookmark: the replica answers, a minute behind, and still recommends the rated movie
    const stale = await call(`/users/${user}/recs`, { headers: auth }, injected);
    expect(stale.headers.get(DEV_QUERIES_HEADER)).toContain("primary-reads=0");
    expect(await recIds(stale)).toContain(top);

    // with the bookmark, in an app with its own model store (another isolate): fresh, from the primary
    const elsewhere = createApp(new ModelStore());
    const fresh = await call(`/users/${user}/recs`, { headers: { ...auth, [BOOKMARK_HEADER]: bookmark } }, injected, elsewhere);
    expect(fresh.headers.get(DEV_QUERIES_HEADER)).not.toContain("primary-reads=0");
    expect(await recIds(fresh)).not.toContain(top);

    // the page: the cookie its write set carries the same guarantee
    const cookie = write.headers.get("set-cookie")!.split(";")[0];
    expect(await recIds(await call(`/users/${user}/recs`, { headers: { ...auth, cookie } }, injected))).not.toContain(top);
  });
});

describe("what a request brings and what its statements do", () => {
  const b1 = "00000000-0000000a-00000000-00000000000000000000000000000000";
  const b2 = "00000000-0000000b-00000000-00000000000000000000000000000000";

  it("takes the header's bookmark over the cookie's, ignores a malformed cookie, refuses a malformed header", () => {
    expect(requestBookmark(new Headers({ [BOOKMARK_HEADER]: b2, cookie: `a=1; ${BOOKMARK_COOKIE}=${b1}` }))).toBe(b2);
    expect(requestBookmark(new Headers({ cookie: `a=1; ${BOOKMARK_COOKIE}=${b1}` }))).toBe(b1);
    expect(requestBookmark(new Headers({ cookie: `${BOOKMARK_COOKIE}=junk` }))).toBeNull();
    expect(requestBookmark(new Headers())).toBeNull();
    expect(() => requestBookmark(new Headers({ [BOOKMARK_HEADER]: "zz" }))).toThrow(BOOKMARK_HEADER);
  });

  it("counts as writes exactly the statements that change something (D1 sends them to the primary)", () => {
    for (const sql of ["SELECT 1", "  select * from ratings", "\nWITH a AS (SELECT 1) SELECT * FROM a", "PRAGMA table_info(ratings)"])
      expect(isWrite(sql)).toBe(false);
    for (const sql of ["INSERT INTO ratings VALUES (1)", "DELETE FROM ratings", "UPDATE x SET a = 1", "WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a"])
      expect(isWrite(sql)).toBe(true);
  });
});

describe("users' state in the location's cache", () => {
  const [v1] = bundles();
  const data = fixtureData(v1);

  beforeAll(async () => {
    await publish(env.MODELS, v1);
    await applyD1Migrations(replica, env.TEST_MIGRATIONS);
  });

  it("serves a read without a bookmark from the cache, and one with a newer bookmark from D1", async () => {
    const user = data.users[11];
    const top = (await recIds(await call(`/users/${user}/recs`, { headers: auth }, cached)))[0];
    // a write elsewhere (another location): straight into D1, this location's cache does not see it
    const elsewhere = env.DB.withSession("first-primary");
    await elsewhere.prepare("INSERT INTO ratings (user_id, movie_id, rating, rated_at) VALUES (?1, ?2, 5, 1)").bind(user, top).run();
    const bookmark = elsewhere.getBookmark()!;
    // the cached state answers (as a replica up to USER_STATE_CACHE_SECONDS behind would)
    expect(await recIds(await call(`/users/${user}/recs`, { headers: auth }, cached))).toContain(top);
    // the writer's bookmark is newer than the cached state: D1 answers, with the write
    expect(await recIds(await call(`/users/${user}/recs`, { headers: { ...auth, [BOOKMARK_HEADER]: bookmark } }, cached))).not.toContain(top);
  });

  it("answers the writer's next read from the state its write left, with no D1 query", async () => {
    const user = data.users[12];
    // the live catalogue is cached per isolate as deployed (the tests' default rereads it every request)
    const bindings = { ...withReplica, USER_STATE_CACHE_SECONDS: "30", CATALOGUE_REFRESH_SECONDS: "30" };
    const top = (await recIds(await call(`/users/${user}/recs`, { headers: auth }, bindings)))[0];
    const write = await rate(user, top, bindings);
    const read = await call(`/users/${user}/recs`, { headers: { ...auth, [BOOKMARK_HEADER]: write.headers.get(BOOKMARK_HEADER)! } }, bindings);
    expect(read.headers.get(DEV_QUERIES_HEADER)).toContain("primary-reads=0, replica-reads=0");
    expect(await recIds(read)).not.toContain(top);
  });

  it("answers a user's next read in this isolate from memory, even once the location's cache has lost the entry", async () => {
    // its own (loopback) origin: the isolate keeps its copies per origin; and a bookmark newer than anything
    // the isolate has read, so that neither another test's copies nor the set of users with live
    // state (which is older) can answer: only a copy this read leaves
    const origin = "http://localhost:8999";
    const user = data.users[14];
    const bindings = { ...withReplica, USER_STATE_CACHE_SECONDS: "30", CATALOGUE_REFRESH_SECONDS: "30" };
    const write = await rate(data.users[15], data.items[0], bindings);
    const bookmark = { ...auth, [BOOKMARK_HEADER]: write.headers.get(BOOKMARK_HEADER)! };
    const first = await call(`${origin}/users/${user}/recs`, { headers: bookmark }, bindings);
    expect(first.headers.get(DEV_QUERIES_HEADER)).toContain("primary-reads=1");
    const list = await recIds(first);
    // the location's copy is put after the answer: let it land, then lose it
    await new Promise((resolve) => setTimeout(resolve, 100));
    await (caches as unknown as { default: Cache }).default.delete(new Request(`${origin}/__edgerec/user-state/v1/${user}`));
    const again = await call(`${origin}/users/${user}/recs`, { headers: bookmark }, bindings);
    expect(again.headers.get(DEV_QUERIES_HEADER)).toContain("primary-reads=0, replica-reads=0");
    expect(await recIds(again)).toEqual(list);
  });

  it("keeps the newer state when a read issued before it ends after it", async () => {
    const db = sessionDatabase(env.DB, null, { origin: "http://localhost:7001", seconds: 30 });
    const rated = { live: [{ movieId: 1, rating: 5, timestamp: 1 }], forgotten: false };
    await rememberUserState(db, 9, rated, { bookmark: "b2", at: Date.now() });
    // read at b1, before the write that b2 committed, and stored after it
    await rememberUserState(db, 9, { live: [], forgotten: false }, { bookmark: "b1", at: Date.now() });
    expect(userStateInMemory(db, 9)).toEqual(rated);
  });

  it("drops a forgotten user's cached state, so the next read serves them as a new user", async () => {
    const user = data.users[13];
    const before = await call(`/users/${user}/recs`, { headers: auth }, cached);
    expect((await before.json<{ source: string }>()).source).toBe("model");
    const gone = await call(`/users/${user}`, { method: "DELETE", headers: auth }, cached);
    expect(gone.status).toBe(200);
    const after = await call(`/users/${user}/recs`, { headers: auth }, cached);
    expect((await after.json<{ source: string }>()).source).toBe("popular");
  });
});

describe("known users without live state", () => {
  const [v1] = bundles();
  const data = fixtureData(v1);
  /** A replica that is never behind, and a set of users with live state that is read again after half a second. */
  const bindings = {
    ...withReplica,
    DEV_LATENCY: "d1_primary_ms=0,d1_replica_ms=0,r2_ms=0,replica_lag_ms=0",
    USER_STATE_CACHE_SECONDS: "1",
    CATALOGUE_REFRESH_SECONDS: "30",
  };
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  beforeAll(async () => {
    await publish(env.MODELS, v1);
    await applyD1Migrations(replica, env.TEST_MIGRATIONS);
  });

  // an origin of their own: the isolate keeps who has live state per origin, and other tests' reads
  // (of another database, the primary) are not this replica's
  const origin = "http://127.0.0.1";

  it("answers a known user who never rated live with no D1 query once the isolate knows who did", async () => {
    // the first request starts reading who has live state (in the background; the set serves for a second)
    await recIds(await call(`${origin}/users/${data.users[20]}/recs`, { headers: auth }, bindings));
    await sleep(300);
    const res = await call(`${origin}/users/${data.users[21]}/recs`, { headers: auth }, bindings);
    expect(res.headers.get(DEV_QUERIES_HEADER)).toContain("primary-reads=0, replica-reads=0");
    expect((await res.json<{ source: string }>()).source).toBe("model");
  });

  it("reads a user who rated in this isolate, or elsewhere once the set has caught up, from D1", async () => {
    const here = data.users[22];
    const elsewhere = data.users[23];
    const topHere = (await recIds(await call(`${origin}/users/${here}/recs`, { headers: auth }, bindings)))[0];
    const topElsewhere = (await recIds(await call(`${origin}/users/${elsewhere}/recs`, { headers: auth }, bindings)))[0];
    const rated = await call(
      `${origin}/users/${here}/ratings`,
      { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ ratings: [{ movieId: topHere, rating: 5 }] }) },
      bindings,
    );
    expect(rated.status).toBe(200);
    // another isolate's write: in D1 (and its replica) but not in this isolate's memory
    for (const db of [env.DB, replica])
      await db.prepare("INSERT INTO ratings (user_id, movie_id, rating, rated_at) VALUES (?1, ?2, 5, 1)").bind(elsewhere, topElsewhere).run();
    // past the user states' lifetime: the next request reads the set again, the one after uses it
    await sleep(1100);
    await call(`${origin}/users/${data.users[24]}/recs`, { headers: auth }, bindings);
    await sleep(100);
    expect(await recIds(await call(`${origin}/users/${here}/recs`, { headers: auth }, bindings))).not.toContain(topHere);
    const read = await call(`${origin}/users/${elsewhere}/recs`, { headers: auth }, bindings);
    expect(read.headers.get(DEV_QUERIES_HEADER)).toContain("replica-reads=1");
    expect(await recIds(read)).not.toContain(topElsewhere);
  });
});

describe("the set of users with live state, when its stamps go back", () => {
  const [v1] = bundles();
  const data = fixtureData(v1);
  const origin = "http://localhost:7002";
  const bindings = { API_TOKEN: TOKEN, USER_STATE_CACHE_SECONDS: "1", CATALOGUE_REFRESH_SECONDS: "30" };
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const recsOf = async (user: number) => recIds(await call(`${origin}/users/${user}/recs`, { headers: auth }, bindings));
  const rateDirectly = (user: number, movieId: number) =>
    env.DB.prepare("INSERT INTO ratings (user_id, movie_id, rating, rated_at) VALUES (?1, ?2, 5, 1)").bind(user, movieId).run();

  beforeAll(async () => {
    await publish(env.MODELS, v1);
  });

  it("reads it again whole, so a user stamped below the last stamp seen is not missed (a restored table)", async () => {
    const user = data.users[25];
    const top = (await recsOf(user))[0];
    // three others rate: the isolate's set has seen stamps up to theirs
    for (const other of [900_001, 900_002, 900_003]) await rateDirectly(other, data.items[0]);
    await sleep(600);
    await recsOf(data.users[26]);
    await sleep(100);
    // the table goes back (as after a restore), then the user rates: a stamp below the last seen
    await env.DB.prepare("DELETE FROM live_users WHERE user_id >= 900001").run();
    await rateDirectly(user, top);
    // past the states' lifetime: the next request reads the set again, the one after uses it
    await sleep(1100);
    await recsOf(data.users[27]);
    await sleep(100);
    expect(await recsOf(user)).not.toContain(top);
  });
});

describe("a fresh isolate's first recommendation", () => {
  it("takes the read of the user's state begun while the model loaded instead of making its own", async () => {
    let batches = 0;
    const counting = {
      withSession() {
        const session = env.DB.withSession("first-unconstrained");
        return {
          prepare: (query: string) => session.prepare(query),
          batch: (statements: D1PreparedStatement[]) => {
            batches++;
            return session.batch(statements);
          },
          getBookmark: () => session.getBookmark(),
        };
      },
    } as unknown as D1Database;
    const db = sessionDatabase(counting, null, { origin: "http://localhost", seconds: 0 });
    prefetchUserState(db, 5);
    // the read runs without anyone awaiting it
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(batches).toBe(1);
    expect(await readUserState(db, 5)).toEqual({ live: [], forgotten: false });
    expect(batches).toBe(1);
    // taken once: a later read reads again
    await readUserState(db, 5);
    expect(batches).toBe(2);
  });
});

describe("a version's files in the location's cache", () => {
  const [v1] = bundles();

  beforeAll(async () => {
    await publish(env.MODELS, v1);
  });

  /** The bucket as R2 would be if it had lost the version's movies.json. */
  const losing = new Proxy(env.MODELS, {
    get(target, prop) {
      if (prop === "get") return (key: string, options?: R2GetOptions) => (key.endsWith("/movies.json") ? Promise.resolve(null) : target.get(key, options));
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });

  it("loads a fresh isolate's model from the cache, not R2, once a location has read the version", async () => {
    const on = { API_TOKEN: TOKEN, BUNDLE_CACHE: "on" };
    expect((await call("/users/1/recs", { headers: auth }, on, createApp(new ModelStore()))).status).toBe(200);
    // the first load stores the files without waiting for the cache: wait until movies.json is there
    const key = new Request(`http://localhost/__edgerec/bundle/v1/${encodeURIComponent(`models/${v1.version}/movies.json`)}`);
    const cache = (caches as unknown as { default: Cache }).default;
    for (let n = 0; n < 100 && !(await cache.match(key)); n++) await new Promise((r) => setTimeout(r, 20));
    // a fresh isolate whose R2 no longer has the file: served from the location's copy
    expect((await call("/users/1/recs", { headers: auth }, { ...on, MODELS: losing }, createApp(new ModelStore()))).status).toBe(200);
    // the same without the cache reads R2, and fails
    expect((await call("/users/1/recs", { headers: auth }, { ...on, BUNDLE_CACHE: "off", MODELS: losing }, createApp(new ModelStore()))).status).toBe(503);
  });
});

describe("DEV_LATENCY is for wrangler dev only", () => {
  async function refusal(path: string, bindings: Bindings): Promise<{ status: number; error: string; message: string }> {
    const res = await call(path, {}, bindings);
    const body = await res.json<{ error: string; message: string }>();
    return { status: res.status, ...body };
  }

  it("refuses every request, /health included, without the wrangler dev marker", async () => {
    for (const path of ["/health", "/users/1/recs", "/movies?q=a"]) {
      const r = await refusal(path, { DEV_LATENCY: "d1_primary_ms=100" });
      expect(r.status).toBe(500);
      expect(r.error).toBe("dev_latency_outside_dev");
      expect(r.message).toContain("remove DEV_LATENCY");
    }
  });

  it("refuses a request that did not come to a loopback address, even with the marker", async () => {
    const res = await app.request("https://edgerec.example.com/health", {}, { ...env, ...injected });
    expect(res.status).toBe(500);
    expect((await res.json<{ error: string }>()).error).toBe("dev_latency_outside_dev");
  });

  it("names a malformed setting, and asks for the replica's database", async () => {
    const bad = await refusal("/health", { ...injected, DEV_LATENCY: "d1_primary_ms=fast" });
    expect(bad.status).toBe(500);
    expect(bad.message).toContain('"d1_primary_ms=fast"');
    const noReplica = await refusal("/health", { ...injected, DB_REPLICA: undefined });
    expect(noReplica.message).toContain("DB_REPLICA");
  });

  it("changes nothing while unset", async () => {
    const res = await call("/health", {}, { DEV_LATENCY: "" });
    expect(res.status).toBe(200);
    expect(res.headers.get(DEV_QUERIES_HEADER)).toBeNull();
  });
});
