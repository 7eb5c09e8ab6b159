// Never dark: a fresh isolate whose published version cannot be loaded (checksums right, content
// wrong, or files missing) serves the newest previous version the pointer keeps that loads, and
// /health says so (degraded, with the reason); once the published version is fixed, the next
// refresh serves it. The content is checked at load as at publish: a movies.json of [] is refused.
import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import {
  BUNDLE_FILES,
  type CurrentPointer,
  type Manifest,
  type PreviousVersion,
  R2_POINTER,
  nextPrevious,
  r2Key,
} from "../../training/src/contract/artifacts.ts";
import { createApp } from "../src/app.ts";
import type { Env } from "../src/env.ts";
import { log } from "../src/log.ts";
import { ModelStore } from "../src/model-store.ts";
import type { FixtureBundle } from "./fixture-types.ts";
import { type BucketRead, bundles, bytesOf, fixtureData, publish, recordingBucket } from "./seed.ts";

const envWith = (bindings: Partial<Env>): Env => ({ ...env, ...bindings });

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Writes a fixture bundle under its version by hand, as an older publish or a hand upload could:
 * `replace` swaps files' bytes with the manifest's size and sha256 following (so the checksums
 * hold), `skip` leaves files out; then the pointer, keeping the replaced one's versions as publish does.
 */
async function writeByHand(
  b: FixtureBundle,
  opts: { replace?: Record<string, string>; skip?: string[]; previous?: PreviousVersion[]; version?: string } = {},
): Promise<void> {
  const version = opts.version ?? b.version;
  const manifest = { ...(JSON.parse(new TextDecoder().decode(bytesOf(b, BUNDLE_FILES.manifest))) as Manifest), version };
  for (const name of Object.keys(b.files)) {
    if (name === BUNDLE_FILES.manifest || opts.skip?.includes(name)) continue;
    const replaced = opts.replace?.[name];
    const bytes = replaced === undefined ? bytesOf(b, name) : new TextEncoder().encode(replaced);
    if (replaced !== undefined) {
      const key = (Object.keys(BUNDLE_FILES) as (keyof typeof BUNDLE_FILES)[]).find((k) => BUNDLE_FILES[k] === name) as keyof Manifest["files"];
      manifest.files[key] = { bytes: bytes.byteLength, sha256: await sha256(bytes) };
    }
    await env.MODELS.put(r2Key(version, name), bytes);
  }
  await env.MODELS.put(r2Key(version, BUNDLE_FILES.manifest), JSON.stringify(manifest));
  const replacedPointer = await env.MODELS.get(R2_POINTER);
  const pointer: CurrentPointer = {
    version,
    manifest: r2Key(version, BUNDLE_FILES.manifest),
    published: new Date().toISOString(),
    previous: opts.previous ?? nextPrevious(replacedPointer ? await replacedPointer.json<CurrentPointer>() : null, version),
  };
  await env.MODELS.put(R2_POINTER, JSON.stringify(pointer));
}

type Health = { status: string; model: string; reason?: string; wanted?: string | null };

describe("a fresh isolate whose published version will not load", () => {
  const [v1, v2] = bundles();
  const user = fixtureData(v1).users[0];

  it("serves the previous version when movies.json is [] (checksums valid), and /health says degraded with the reason", async () => {
    await publish(env.MODELS, v1);
    await writeByHand(v2, { replace: { [BUNDLE_FILES.movies]: "[]" } });
    const fresh = createApp(new ModelStore());
    const health = await fresh.request("/health", {}, env);
    expect(health.status).toBe(200);
    const body = await health.json<Health>();
    expect(body).toMatchObject({ status: "degraded", model: "fixture-v1", wanted: "fixture-v2" });
    expect(body.reason).toMatch(/fixture-v2 is not a servable bundle: movies\.json is empty/);
    const recs = await fresh.request(`/users/${user}/recs?k=5`, {}, env);
    expect(recs.status).toBe(200);
    expect(recs.headers.get("x-model-version")).toBe("fixture-v1");
  });

  it("says degraded with a token configured too (the reason is a client's message, no internals)", async () => {
    await publish(env.MODELS, v1);
    await writeByHand(v2, { replace: { [BUNDLE_FILES.movies]: "[]" } });
    const res = await createApp(new ModelStore()).request("/health", {}, envWith({ API_TOKEN: "t0ken" }));
    expect(res.status).toBe(200);
    expect(await res.json<Health>()).toMatchObject({ status: "degraded", model: "fixture-v1", wanted: "fixture-v2" });
  });

  it("skips a previous version that does not load either, newest first", async () => {
    await publish(env.MODELS, v1);
    // a version published without its model.onnx, then one with an empty catalogue
    await writeByHand(v2, { skip: [BUNDLE_FILES.model], version: "fixture-no-model" });
    await writeByHand(v2, { replace: { [BUNDLE_FILES.movies]: "[]" }, version: "fixture-empty" });
    const pointer = await (await env.MODELS.get(R2_POINTER))!.json<CurrentPointer>();
    expect(pointer.previous?.slice(0, 2).map((p) => p.version)).toEqual(["fixture-no-model", "fixture-v1"]);
    const body = await (await createApp(new ModelStore()).request("/health", {}, env)).json<Health>();
    expect(body).toMatchObject({ status: "degraded", model: "fixture-v1", wanted: "fixture-empty" });
  });

  it("serves the published version, ok again, once it is fixed (the next refresh)", async () => {
    await publish(env.MODELS, v1);
    await writeByHand(v2, { replace: { [BUNDLE_FILES.movies]: "[]" } });
    const fresh = createApp(new ModelStore());
    expect((await (await fresh.request("/health", {}, env)).json<Health>()).status).toBe("degraded");
    await publish(env.MODELS, v2);
    const body = await (await fresh.request("/health", {}, env)).json<Health>();
    expect(body).toEqual(expect.objectContaining({ status: "ok", model: "fixture-v2" }));
    expect(body.reason).toBeUndefined();
  });

  it("serves the bucket's newest version that loads when models/current.json itself is unreadable, degraded", async () => {
    await publish(env.MODELS, v1);
    await publish(env.MODELS, v2);
    // a newer upload that does not load: skipped, as a broken previous version is
    await writeByHand(v2, { replace: { [BUNDLE_FILES.movies]: "[]" }, version: "fixture-empty" });
    await env.MODELS.put(R2_POINTER, "{torn");
    const warned = vi.spyOn(log, "warn").mockImplementation(() => {});
    const fresh = createApp(new ModelStore());
    const health = await fresh.request("/health", {}, env);
    expect(health.status).toBe(200);
    const body = await health.json<Health>();
    expect(body).toMatchObject({ status: "degraded", model: "fixture-v2", wanted: null });
    expect(body.reason).toMatch(/models\/current\.json is not a valid pointer/);
    expect((await fresh.request(`/users/${user}/recs?k=5`, {}, env)).headers.get("x-model-version")).toBe("fixture-v2");
    expect(warned).toHaveBeenCalledWith(expect.stringMatching(/previous model fixture-empty could not be loaded/), expect.anything());
    warned.mockRestore();
  });

  it("still answers 503 no_model when no pointer was ever published, whatever the bucket holds", async () => {
    await writeByHand(v1, { previous: [] });
    await env.MODELS.delete(R2_POINTER);
    const res = await createApp(new ModelStore()).request("/health", {}, env);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: "no_model" });
  });

  it("answers 503 with the reason when no version the pointer keeps loads", async () => {
    await writeByHand(v2, { replace: { [BUNDLE_FILES.movies]: "[]" }, previous: [] });
    const res = await createApp(new ModelStore()).request("/health", {}, env);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: "model_unavailable", message: expect.stringMatching(/movies\.json is empty/) });
  });
});

describe("a running isolate whose new published version will not load", () => {
  const [v1, v2] = bundles();

  it("tries the broken publication again after 1, 2, 4 ... refresh intervals, not every interval, and a new one at once", async () => {
    await publish(env.MODELS, v1);
    let now = Date.now();
    vi.spyOn(Date, "now").mockImplementation(() => now);
    const reads: BucketRead[] = [];
    const e = envWith({ MODELS: recordingBucket(reads), MODEL_REFRESH_SECONDS: "60" });
    const store = new ModelStore();
    (await store.acquire(e)).release();
    await writeByHand(v2, { replace: { [BUNDLE_FILES.movies]: "[]" }, version: "fixture-refused" });
    const loads = () => reads.filter((r) => r.key === r2Key("fixture-refused", BUNDLE_FILES.manifest)).length;
    const attempts: number[] = [];
    for (let minute = 1; minute <= 8; minute++) {
      now += 61_000;
      const lease = await store.acquire(e);
      expect(lease.model.version).toBe("fixture-v1");
      lease.release();
      attempts.push(loads());
    }
    // failed at 1 min, again at 2 (1 interval later), 4 (2 later), 8 (4 later)
    expect(attempts).toEqual([1, 2, 2, 3, 3, 3, 3, 4]);
    expect(store.degraded).toMatchObject({ wanted: "fixture-refused" });
    // published again (a new pointer): tried at the next refresh
    await writeByHand(v2, { replace: { [BUNDLE_FILES.movies]: "[]" }, version: "fixture-refused" });
    now += 61_000;
    (await store.acquire(e)).release();
    expect(loads()).toBe(5);
  });

  it("keeps the model it serves, and /health says degraded until the version is fixed", async () => {
    await publish(env.MODELS, v1);
    const app = createApp(new ModelStore());
    expect(await (await app.request("/health", {}, env)).json<Health>()).toMatchObject({ status: "ok", model: "fixture-v1" });
    await writeByHand(v2, { replace: { [BUNDLE_FILES.ids]: JSON.stringify({ users: [], items: [] }) } });
    const body = await (await app.request("/health", {}, env)).json<Health>();
    expect(body).toMatchObject({ status: "degraded", model: "fixture-v1", wanted: "fixture-v2" });
    expect(body.reason).toMatch(/ids\.json maps 0 items/);
  });
});
