// A fresh isolate's first list (docs/edge.md, "The cold first list"): the request that waited for
// the model's load says where the load's time went (Server-Timing load-*), later requests do
// not, and a load begun before the request asks for its model (ModelStore.prepare) is the one
// the request then waits for.
import { env } from "cloudflare:test";
import { Hono } from "hono";
import { timing } from "hono/timing";
import { describe, expect, it } from "vitest";
import type { AppEnv } from "../src/env.ts";
import { withModel } from "../src/middleware.ts";
import { ModelStore } from "../src/model-store.ts";
import { bundles, publish } from "./seed.ts";

/** The Server-Timing entries' names ("load-pointer;dur=31.0,total;dur=40.0" -> ["load-pointer", "total"]). */
const timingNames = (res: Response): string[] => (res.headers.get("server-timing") ?? "").split(",").map((e) => e.split(";")[0].trim());

describe("a fresh isolate's first load", () => {
  it("gives the request that waited for it the load's phases, and no later request", async () => {
    const [v1] = bundles();
    await publish(env.MODELS, v1);
    const store = new ModelStore();
    const first = await store.acquire(env);
    const phases = first.loadPhases ?? [];
    first.release();
    // reading the pointer, the manifest and the files, their checks, parsing, then ORT's sessions
    expect(phases.map((p) => p.name)).toEqual(expect.arrayContaining(["pointer", "manifest", "fetch", "verify", "parse", "model", "sessions"]));
    for (const p of phases) expect(p.ms).toBeGreaterThanOrEqual(0);
    const second = await store.acquire(env);
    expect(second.loadPhases).toBeNull();
    second.release();
  });

  it("shows the phases in Server-Timing on routes that report timings", async () => {
    const [v1] = bundles();
    await publish(env.MODELS, v1);
    const store = new ModelStore();
    const app = new Hono<AppEnv>()
      .use(async (c, next) => {
        c.set("store", store);
        await next();
      })
      .get("/timed", timing(), withModel, (c) => c.text(c.var.model.version));
    const first = await app.request("/timed", {}, env);
    expect(first.status).toBe(200);
    expect(timingNames(first)).toEqual(expect.arrayContaining(["load-pointer", "load-fetch", "load-sessions", "total"]));
    const second = await app.request("/timed", {}, env);
    expect(timingNames(second).filter((n) => n.startsWith("load-"))).toEqual([]);
  });

  it("prepare begins the load without waiting for it, once", async () => {
    const [v1] = bundles();
    await publish(env.MODELS, v1);
    const store = new ModelStore();
    store.prepare(env);
    store.prepare(env);
    expect(store.loads).toBe(0);
    // the load runs with no request waiting for it, and only one
    for (let waited = 0; store.loads === 0 && waited < 10_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(store.loads).toBe(1);
    const lease = await store.acquire(env);
    expect(lease.model.version).toBe(v1.version);
    // this request waited for no load
    expect(lease.loadPhases).toBeNull();
    lease.release();
    // with a model loaded it does nothing
    store.prepare(env);
    expect(store.loads).toBe(1);
  });
});
