// A bundle whose per-user data lives in D1 (Manifest.per_user "d1", the default for large
// bundles): publishing loads one row per user into the snapshots table before the pointer
// moves, the load reads no per-user file, and a known user's recommendation reads the user's
// snapshot and live ratings in one D1 batch. The answers are those of the same model with
// everything in memory.
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { BUNDLE_FILES, type Manifest, r2Key } from "../../training/src/contract/artifacts.ts";
import { SNAPSHOTS_TABLE } from "../../training/src/contract/user-snapshots.ts";
import { createApp } from "../src/app.ts";
import type { Env } from "../src/env.ts";
import { log } from "../src/log.ts";
import { ModelStore } from "../src/model-store.ts";
import { type BucketRead, bundles, bytesOf, expectSameAnswers, fixtureData, publish, recordingBucket } from "./seed.ts";

interface RecsBody {
  source: string;
  recommendations: { movieId: number; score: number }[];
}

/** The D1 binding with every batch and single statement recorded (how many statements each). */
function recordingDb(calls: string[], fail = false): D1Database {
  const db = env.DB;
  return new Proxy(db, {
    get(target, prop) {
      // reads go through the request's D1 session (worker/src/edge/session.ts): record (or fail) its calls the same way
      if (prop === "withSession") return (from?: string) => new Proxy(target.withSession(from), this as unknown as ProxyHandler<D1DatabaseSession>);
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          calls.push(`batch of ${statements.length}`);
          if (fail) return Promise.reject(new Error("D1 is down (test)"));
          return target.batch(statements);
        };
      }
      if (prop === "prepare") {
        return (sql: string) => {
          const statement = target.prepare(sql);
          // the record of the list served, written after the answer (docs/loop.md), and the live
          // catalogue's read (cached per isolate, docs/catalogue.md) read nothing of the user
          if (/^\s*(INSERT INTO served|SELECT id, title, year, genres, added_at, updated_at FROM movies)\b/.test(sql)) return statement;
          // a statement run on its own (not in a batch) is a round trip of its own
          return new Proxy(statement, {
            get(s, p) {
              const value = Reflect.get(s, p);
              if (p === "bind") return (...args: unknown[]) => recordingStatement(s.bind(...args), calls, fail);
              return typeof value === "function" ? value.bind(s) : value;
            },
          });
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function recordingStatement(statement: D1PreparedStatement, calls: string[], fail: boolean): D1PreparedStatement {
  return new Proxy(statement, {
    get(s, p) {
      const value = Reflect.get(s, p);
      if (p === "all" || p === "first" || p === "run" || p === "raw") {
        return (...args: unknown[]) => {
          calls.push(`single ${String(p)}`);
          if (fail) return Promise.reject(new Error("D1 is down (test)"));
          return (value as (...a: unknown[]) => unknown).apply(s, args);
        };
      }
      return typeof value === "function" ? value.bind(s) : value;
    },
  });
}

describe("per-user data in D1", () => {
  const [inMemory] = bundles();
  const d1 = bundles().find((b) => b.version === "fixture-d1")!;
  const data = fixtureData(inMemory);
  const manifest = JSON.parse(new TextDecoder().decode(bytesOf(d1, BUNDLE_FILES.manifest))) as Manifest;
  let app = createApp(new ModelStore());
  const call = (path: string, overrides: Partial<Env> = {}, init: RequestInit = {}): Promise<Response> =>
    Promise.resolve(app.request(path, init, { ...env, API_TOKEN: undefined, ...overrides } as Partial<Env>));

  const freshStore = (): void => {
    app = createApp(new ModelStore());
  };

  beforeEach(freshStore);

  it("is exported with users.bin and popularity.bin, and ids.json without the users", () => {
    expect(manifest.per_user).toBe("d1");
    expect(manifest.max_user_id).toBe(Math.max(...data.users));
    expect(Object.keys(manifest.files)).toEqual(expect.arrayContaining(["users", "popularity", "rated"]));
    expect(JSON.parse(new TextDecoder().decode(bytesOf(d1, BUNDLE_FILES.ids))).users).toEqual([]);
  });

  it("is published with one snapshot row per user before the pointer moves", async () => {
    await publish(env.MODELS, d1);
    const rows = await env.DB.prepare(`SELECT count(DISTINCT user_id) AS users, count(*) AS rows FROM ${SNAPSHOTS_TABLE} WHERE version = ?1`)
      .bind(d1.version)
      .first<{ users: number; rows: number }>();
    expect(rows).toEqual({ users: data.users.length, rows: data.users.length });
  });

  it("answers every known user as the same model with its per-user data in memory does", async () => {
    await expectSameAnswers(call, freshStore, inMemory, d1);
  });

  it("loads without reading any per-user file, and reads a known user in one D1 batch and nothing from R2", async () => {
    await publish(env.MODELS, d1);
    const reads: BucketRead[] = [];
    const bucket = recordingBucket(reads);
    const calls: string[] = [];
    const db = recordingDb(calls);
    expect((await call("/health", { MODELS: bucket, DB: db })).status).toBe(200);
    const perUserFiles = [BUNDLE_FILES.users, BUNDLE_FILES.rated, BUNDLE_FILES.history].map((f) => r2Key(d1.version, f));
    // neither read nor checked by head: the per-user data is D1's
    expect(reads.filter((r) => perUserFiles.includes(r.key))).toEqual([]);
    reads.length = 0;
    calls.length = 0;
    const res = await call(`/users/${data.users[5]}/recs`, { MODELS: bucket, DB: db });
    expect(res.status).toBe(200);
    expect(calls).toEqual(["batch of 2"]);
    expect(reads.filter((r) => r.key !== "models/current.json")).toEqual([]);
  });

  it("ranks a known user's live ratings at once: a movie rated live is no longer recommended", async () => {
    await publish(env.MODELS, d1);
    const user = data.users[9];
    const before = (await (await call(`/users/${user}/recs?k=5`)).json<RecsBody>()).recommendations;
    await env.DB.prepare("INSERT INTO ratings (user_id, movie_id, rating, rated_at) VALUES (?1, ?2, 5, 1)").bind(user, before[0].movieId).run();
    const after = (await (await call(`/users/${user}/recs?k=5`)).json<RecsBody>()).recommendations;
    expect(after.map((r) => r.movieId)).not.toContain(before[0].movieId);
    await env.DB.prepare("DELETE FROM ratings WHERE user_id = ?1").bind(user).run();
  });

  it("answers the cold-start list for ids that are no user's", async () => {
    await publish(env.MODELS, d1);
    const absent = Array.from({ length: manifest.max_user_id! }, (_, i) => i + 1).find((id) => !data.users.includes(id));
    for (const id of [...(absent ? [absent] : []), manifest.max_user_id! + 1, 999_999_999]) {
      const res = await call(`/users/${id}/recs`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ source: "popular", ignored: 0 });
    }
  });

  it("answers 503, not 404, when the served version's rows were pruned by later publications", async () => {
    await publish(env.MODELS, d1);
    expect((await call(`/users/${data.users[1]}/recs`)).status).toBe(200);
    await env.DB.prepare(`DELETE FROM ${SNAPSHOTS_TABLE} WHERE version = ?1`).bind(d1.version).run();
    const res = await call(`/users/${data.users[1]}/recs`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: "model_unavailable", message: expect.stringMatching(/no longer in D1/) });
  });

  it("answers 503 when D1 cannot be read: without it the snapshot cannot be read either", async () => {
    await publish(env.MODELS, d1);
    expect((await call("/health")).status).toBe(200);
    const logged = vi.spyOn(log, "error").mockImplementation(() => {});
    const res = await call(`/users/${data.users[0]}/recs`, { DB: recordingDb([], true) });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: "live_store_unavailable" });
    expect(logged).toHaveBeenCalledWith("D1 error", expect.objectContaining({ message: "D1 is down (test)" }));
  });

  it("keeps the served version's rows and those of the previous versions the pointer keeps when it publishes another", async () => {
    const renamed = (version: string) => {
      const m = { ...manifest, version, created: new Date().toISOString() };
      const files = { ...d1.files, [BUNDLE_FILES.manifest]: btoa(JSON.stringify(m)) };
      return { version, files };
    };
    await publish(env.MODELS, renamed("fixture-d1-a"));
    await publish(env.MODELS, renamed("fixture-d1-b"));
    await publish(env.MODELS, renamed("fixture-d1-c"));
    await publish(env.MODELS, renamed("fixture-d1-d"));
    await publish(env.MODELS, renamed("fixture-d1-e"));
    const { results } = await env.DB.prepare(`SELECT DISTINCT version FROM ${SNAPSHOTS_TABLE} ORDER BY version`).all<{ version: string }>();
    // the served version and the KEEP_PREVIOUS (3) before it: a fresh isolate may fall back to them
    expect(results.map((r) => r.version)).toEqual(["fixture-d1-b", "fixture-d1-c", "fixture-d1-d", "fixture-d1-e"]);
  });
});
