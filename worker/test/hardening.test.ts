// What a production isolate survives: hot swaps that release replaced models only once no
// request holds them, loads with a deadline, broken bundles retried once per refresh interval,
// cache headers that never leak a token-protected answer, and errors without internals.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { R2_POINTER } from "../../training/src/contract/artifacts.ts";
import { app, createApp } from "../src/app.ts";
import type { Env } from "../src/env.ts";
import { log } from "../src/log.ts";
import { ModelStore } from "../src/model-store.ts";
import { onnxRuntime } from "../src/ort.ts";
import { recsForUser } from "../src/scoring.ts";
import { bundles, bytesOf, fixtureData, publish } from "./seed.ts";

/** The real bucket, with reads counted per key and optionally replaced. */
function instrumented(bucket: R2Bucket, override: (key: string) => Promise<R2ObjectBody | null> | null = () => null) {
  const reads = new Map<string, number>();
  const wrapped = {
    get(key: string) {
      reads.set(key, (reads.get(key) ?? 0) + 1);
      return override(key) ?? bucket.get(key);
    },
  } as unknown as R2Bucket;
  return { bucket: wrapped, reads: (suffix: string) => [...reads].filter(([k]) => k.endsWith(suffix)).reduce((s, [, n]) => s + n, 0) };
}

const envWith = (bindings: Partial<Env>): Env => ({ ...env, ...bindings });

describe("hardening of the model store and the headers", () => {
  const [v1, v2] = bundles();
  const data = fixtureData(v1);

  beforeAll(async () => {
    await publish(env.MODELS, v1);
  });

  it("releases a replaced model only after the last request holding it is done", async () => {
    const store = new ModelStore();
    const e = envWith({ MODEL_REFRESH_SECONDS: "0" });
    const held = await store.acquire(e);
    expect(held.model.version).toBe("fixture-v1");
    await publish(env.MODELS, v2);
    const next = await store.acquire(e);
    expect(next.model.version).toBe("fixture-v2");
    next.release();
    expect(store.released).toBe(0);
    // the request that still holds v1 can still score with it
    const user = await held.model.users.get(fixtureData(v1).users[0]);
    const ranked = await recsForUser(held.model, user!, 5, []);
    expect(ranked).toHaveLength(5);
    held.release();
    expect(store.released).toBe(1);
    held.release(); // a second release changes nothing
    expect(store.released).toBe(1);
    await publish(env.MODELS, v1);
    (await store.acquire(e)).release();
    expect(store.released).toBe(2); // v2 was held by nobody: released at once
  });

  it("hands a load to the starting request's waitUntil, so a disconnecting client cannot strand the requests waiting on it", async () => {
    await publish(env.MODELS, v1);
    const store = new ModelStore();
    const e = envWith({ MODEL_REFRESH_SECONDS: "60" });
    const registered: Promise<unknown>[] = [];
    const waitUntil = (work: Promise<unknown>) => registered.push(work);
    const [a, b] = await Promise.all([store.acquire(e, waitUntil), store.acquire(e, waitUntil)]);
    // one load, shared by both requests, registered once; settled by the time they have the model
    expect(registered).toHaveLength(1);
    await expect(registered[0]).resolves.toBe(a.model);
    expect(b.model).toBe(a.model);
    // a cached model starts no load: nothing more to hold
    (await store.acquire(e, waitUntil)).release();
    expect(registered).toHaveLength(1);
    a.release();
    b.release();
  });

  it("release-first swaps: requests wait while the old model drains, and it is released before the new one is built", async () => {
    await publish(env.MODELS, v1);
    const store = new ModelStore();
    const e = envWith({ MODEL_REFRESH_SECONDS: "0", MODEL_SWAP: "release-first" });
    const held = await store.acquire(e);
    expect(held.model.version).toBe("fixture-v1");
    await publish(env.MODELS, v2);
    let answered: string | null = null;
    const next = store.acquire(e).then((lease) => {
      answered = lease.model.version;
      return lease;
    });
    await new Promise((r) => setTimeout(r, 300));
    // v1 is still held by a request: the swap waits, and so does the new request
    expect(answered).toBeNull();
    expect(store.released).toBe(0);
    held.release();
    const lease = await next;
    expect(lease.model.version).toBe("fixture-v2");
    expect(store.released).toBe(1);
    lease.release();
    expect(store.released).toBe(1);
  });

  it("release-first swaps: a lease never given back (a canceled request) holds the swap 3 s at most", async () => {
    await publish(env.MODELS, v1);
    const store = new ModelStore();
    const e = envWith({ MODEL_REFRESH_SECONDS: "0", MODEL_SWAP: "release-first" });
    // workerd cancels a request whose client disconnected without running its finally blocks:
    // its lease is never released
    const abandoned = await store.acquire(e);
    expect(abandoned.model.version).toBe("fixture-v1");
    await publish(env.MODELS, v2);
    const started = Date.now();
    const lease = await store.acquire(e);
    expect(lease.model.version).toBe("fixture-v2");
    expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
    expect(store.released).toBe(1);
    lease.release();
    // the canceled request's late release (were it ever to come) changes nothing
    abandoned.release();
    expect(store.released).toBe(1);
  });

  it("overlapping swaps: a replaced model held by a lease never given back is released 3 s after the swap", async () => {
    await publish(env.MODELS, v1);
    const store = new ModelStore();
    const e = envWith({ MODEL_REFRESH_SECONDS: "0" });
    const abandoned = await store.acquire(e);
    await publish(env.MODELS, v2);
    (await store.acquire(e)).release();
    expect(store.released).toBe(0);
    await new Promise((r) => setTimeout(r, 3100));
    (await store.acquire(e)).release();
    expect(store.released).toBe(1);
    abandoned.release();
    expect(store.released).toBe(1);
  });

  it("release-first swaps: a version whose sessions cannot be built leaves the old version serving", async () => {
    await publish(env.MODELS, v1);
    const store = new ModelStore();
    const e = envWith({ MODEL_REFRESH_SECONDS: "0", MODEL_SWAP: "release-first" });
    (await store.acquire(e)).release();
    // a sound v2 whose first session ONNX Runtime cannot build (as when the isolate runs out of
    // memory): the failure comes after v1 was released. (A graph ORT would refuse never reaches it:
    // the contract's graph check refuses it before any session, docs/trust.md.)
    await publish(env.MODELS, v2);
    const ort = await onnxRuntime();
    const create = ort.InferenceSession.create.bind(ort.InferenceSession);
    let refused = 0;
    const spy = vi.spyOn(ort.InferenceSession, "create").mockImplementation(((...args: Parameters<typeof create>) => {
      if (refused++ === 0) return Promise.reject(new Error("failed to allocate a buffer for the session"));
      return create(...args);
    }) as typeof create);
    const lease = await store.acquire(e);
    expect(lease.model.version).toBe("fixture-v1");
    expect(store.released).toBe(1);
    expect(store.loads).toBe(2); // v1, then v1 again after the failed swap
    const user = await lease.model.users.get(fixtureData(v1).users[0]);
    expect(await recsForUser(lease.model, user!, 5, [])).toHaveLength(5);
    expect(refused).toBeGreaterThan(1);
    spy.mockRestore();
    lease.release();
  });

  it("answers 503 within the load deadline when a bundle read hangs", async () => {
    await publish(env.MODELS, v1);
    const hanging = instrumented(env.MODELS, (key) => (key.endsWith("model.onnx") ? new Promise<never>(() => {}) : null));
    const store = new ModelStore();
    const started = Date.now();
    const err = await store.acquire(envWith({ MODELS: hanging.bucket, MODEL_LOAD_TIMEOUT_SECONDS: "0.3" })).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err).toMatchObject({ status: 503, code: "model_unavailable" });
  });

  it("fetches a broken bundle at most once per refresh interval, not once per request", async () => {
    await publish(env.MODELS, v1);
    const corrupt = bytesOf(v1, "model.onnx").slice();
    corrupt[100] ^= 0xff;
    const broken = instrumented(env.MODELS, (key) =>
      key.endsWith("model.onnx") ? env.MODELS.put("corrupt.onnx", corrupt).then(() => env.MODELS.get("corrupt.onnx")) : null,
    );
    const store = new ModelStore();
    const e = envWith({ MODELS: broken.bucket, MODEL_REFRESH_SECONDS: "60" });
    for (let n = 0; n < 8; n++) {
      const err = await store.acquire(e).catch((x: unknown) => x);
      expect(err).toMatchObject({ status: 503, code: "model_unavailable" });
    }
    // (a fresh isolate then tries the pointer's previous versions too, each once)
    expect(broken.reads("fixture-v1/model.onnx")).toBe(1);
    expect(broken.reads(R2_POINTER)).toBe(1);
  });

  it("checks files by R2's stored MD5 when there is one, and by sha256 when not", async () => {
    await publish(env.MODELS, v1);
    const load = (override: (key: string) => Promise<R2ObjectBody | null> | null) =>
      new ModelStore().acquire(envWith({ MODELS: instrumented(env.MODELS, override).bucket }));
    // the stored object with other checksums: a plain object, since workerd's own cannot be extended
    const withChecksums = (key: string, checksums: { md5?: ArrayBuffer }) =>
      env.MODELS.get(key).then((o) => (o ? ({ arrayBuffer: () => o.arrayBuffer(), json: () => o.json(), checksums } as unknown as R2ObjectBody) : null));
    // good bytes whose stored MD5 disagrees with the manifest: refused, so the MD5 is what is checked
    const wrongMd5 = (key: string) => (key.endsWith("rated.bin") ? withChecksums(key, { md5: new ArrayBuffer(16) }) : null);
    expect(await load(wrongMd5).catch((e: unknown) => e)).toMatchObject({ status: 503, code: "model_unavailable" });
    // no stored MD5 at all: the sha256 of the good bytes is checked, and passes
    const noMd5 = (key: string) => (key.endsWith("rated.bin") ? withChecksums(key, {}) : null);
    const lease = await load(noMd5);
    expect(lease.model.version).toBe("fixture-v1");
    lease.release();
  });

  it("never puts exception text from a failed load in the answer", async () => {
    const throwing = instrumented(env.MODELS, (key) => (key.endsWith("rated.bin") ? Promise.reject(new Error("internal: socket 10.0.0.7 reset")) : null));
    const fresh = createApp(new ModelStore()); // an isolate with no model loaded yet
    const logged = vi.spyOn(log, "error").mockImplementation(() => {});
    const res = await fresh.request("/movies/1", {}, envWith({ MODELS: throwing.bucket }));
    expect(res.status).toBe(503);
    const body = await res.json<{ error: string; message: string }>();
    expect(body.error).toBe("model_unavailable");
    expect(body.message).not.toMatch(/socket|10\.0\.0\.7|internal:/);
    // the operator's log keeps what the client is never told
    expect(logged).toHaveBeenCalledWith("model load failed", expect.objectContaining({ message: "internal: socket 10.0.0.7 reset" }));
  });

  it("never answers public to a request with a token, and varies on Authorization when a token guards the API", async () => {
    await publish(env.MODELS, v1);
    const id = data.items[0];
    const open = await app.request(`/movies/${id}`, {}, env);
    expect(open.headers.get("cache-control")).toBe("public, max-age=300");
    const secured = envWith({ API_TOKEN: "t0ken" });
    const res = await app.request(`/movies/${id}`, { headers: { authorization: "Bearer t0ken" } }, secured);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("private, max-age=300");
    expect(res.headers.get("vary")).toMatch(/Authorization/);
    expect(res.headers.get("x-model-version")).toBe("fixture-v1");
  });

  it("reveals only ok, the version and whether similar movies exist on /health when a token is configured", async () => {
    await publish(env.MODELS, v1);
    const res = await app.request("/health", {}, envWith({ API_TOKEN: "t0ken" }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok", model: "fixture-v1", similar: true, d1: "ok" });
    const open = await app.request("/health", {}, env);
    expect(await open.json()).toMatchObject({ status: "ok", model: "fixture-v1", users: data.users.length, foldin: "propagated" });
  });
});
