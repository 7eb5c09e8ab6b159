// A bundle with vector.onnx and candidates.bin (compact LightGCN served from histories, the
// large-catalogue shape): the Worker builds the user vector with vector.onnx and ranks every item
// with its own int8 kernel instead of running model.onnx, which it does not even fetch. Its
// answers are the exact ranking of the int8 table it serves, and agree with model.onnx's, whose
// uint8 query is coarser.
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { BUNDLE_FILES, type Manifest, VECTOR_GRAPH, decodeInt8Table, r2Key } from "../../training/src/contract/artifacts.ts";
import { createApp } from "../src/app.ts";
import type { Env } from "../src/env.ts";
import { ModelStore } from "../src/model-store.ts";
import { onnxRuntime } from "../src/ort.ts";
import type { FixtureBundle } from "./fixture-types.ts";
import { type BucketRead, bundles, bytesOf, publish, recordingBucket } from "./seed.ts";

interface Rec {
  movieId: number;
  score: number;
  because: { movieId: number; similarity: number } | null;
}
interface RecsBody {
  source: string;
  recommendations: Rec[];
}

const buffer = (b: Uint8Array): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
const manifestOf = (b: FixtureBundle): Manifest => JSON.parse(new TextDecoder().decode(bytesOf(b, BUNDLE_FILES.manifest))) as Manifest;

/** The same bundle without the kernel's files: the Worker then ranks with model.onnx. */
function withoutKernel(b: FixtureBundle): FixtureBundle {
  const manifest = manifestOf(b);
  manifest.version = `${b.version}-onnx`;
  delete manifest.files.vector;
  delete manifest.files.candidates;
  delete manifest.files.normalized;
  const files: Record<string, string> = { ...b.files, [BUNDLE_FILES.manifest]: btoa(JSON.stringify(manifest)) };
  delete files[BUNDLE_FILES.vector];
  delete files[BUNDLE_FILES.candidates];
  delete files[BUNDLE_FILES.normalized];
  return { version: manifest.version, files };
}

describe("a bundle ranked by the Worker's int8 kernel", () => {
  const b = bundles().find((x) => x.version === "fixture-compact")!;
  const manifest = manifestOf(b);
  const table = decodeInt8Table(buffer(bytesOf(b, BUNDLE_FILES.candidates)));
  const ids = JSON.parse(new TextDecoder().decode(bytesOf(b, BUNDLE_FILES.ids))) as { items: number[] };
  const itemOf = new Map(ids.items.map((id, i) => [id, i]));
  let app = createApp(new ModelStore());
  const call = (path: string, overrides: Partial<Env> = {}, init: RequestInit = {}): Promise<Response> =>
    Promise.resolve(app.request(path, init, { ...env, API_TOKEN: undefined, ...overrides } as Partial<Env>));
  const postRecs = (history: number[], k: number): Promise<Response> =>
    call(
      "/recs",
      {},
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ k, history: history.map((movieId) => ({ movieId, rating: 5 })) }),
      },
    );

  /** The exact float scores of the served int8 table (values times scales) for a history's vector from vector.onnx. */
  async function exactScores(history: number[]): Promise<number[]> {
    const ort = await onnxRuntime();
    const session = await ort.InferenceSession.create(bytesOf(b, BUNDLE_FILES.vector));
    const input = new ort.Tensor(
      "int64",
      BigInt64Array.from(history, (id) => BigInt(itemOf.get(id)!)),
      [history.length],
    );
    const vector = (await session.run({ [VECTOR_GRAPH.inputs.history]: input }))[VECTOR_GRAPH.outputs.vector].data as Float32Array;
    await session.release();
    return Array.from({ length: table.rows }, (_, j) => {
      let s = 0;
      for (let c = 0; c < table.dim; c++) s += table.values[j * table.dim + c] * table.scales[j] * vector[c];
      return s;
    });
  }

  beforeEach(() => {
    app = createApp(new ModelStore());
  });

  it("is exported with vector.onnx and candidates.bin beside model.onnx, one int8 row per item", () => {
    expect(manifest.recs).toBe("history");
    expect(Object.keys(manifest.files)).toEqual(expect.arrayContaining(["model", "vector", "candidates"]));
    expect(table.rows).toBe(manifest.items);
    expect(table.dim).toBe(manifest.dim);
  });

  it("ranks a history exactly as the int8 table scores it, every history movie excluded", async () => {
    await publish(env.MODELS, b);
    const history = ids.items.slice(0, 12).filter((_, i) => i % 3 === 0);
    const res = await postRecs(history, 10);
    expect(res.status).toBe(200);
    const got = (await res.json<RecsBody>()).recommendations;
    expect(got).toHaveLength(10);
    const exact = await exactScores(history);
    const top = Math.max(...exact.map(Math.abs));
    const excluded = new Set(history.map((id) => itemOf.get(id)!));
    const kept = new Set(got.map((r) => itemOf.get(r.movieId)!));
    for (const r of got) {
      expect(excluded.has(itemOf.get(r.movieId)!)).toBe(false);
      expect(Math.abs(r.score - exact[itemOf.get(r.movieId)!])).toBeLessThan(top * 1e-3);
    }
    // nothing left out scores better than the last one kept, beyond the int16 query's rounding
    const last = exact[itemOf.get(got[got.length - 1].movieId)!];
    for (let j = 0; j < table.rows; j++) if (!kept.has(j) && !excluded.has(j)) expect(exact[j]).toBeLessThan(last + top * 2e-3);
  });

  it("loads without fetching model.onnx, and ranks a known user in one D1 batch with no R2 read", async () => {
    await publish(env.MODELS, b);
    const reads: BucketRead[] = [];
    const health = await call("/health", { MODELS: recordingBucket(reads) });
    expect(await health.json()).toMatchObject({ status: "ok", recs: "history", ranker: "int8-kernel" });
    const keys = reads.map((r) => r.key);
    expect(keys).toContain(r2Key(b.version, BUNDLE_FILES.candidates));
    expect(keys).toContain(r2Key(b.version, BUNDLE_FILES.vector));
    expect(keys).not.toContain(r2Key(b.version, BUNDLE_FILES.model));
    // the reasons come from normalized.bin in the kernel: because.onnx is not fetched either
    expect(keys).toContain(r2Key(b.version, BUNDLE_FILES.normalized));
    expect(keys).not.toContain(r2Key(b.version, BUNDLE_FILES.because));
    reads.length = 0;
    const res = await call("/users/7/recs?k=5", { MODELS: recordingBucket(reads) });
    expect(res.status).toBe(200);
    expect((await res.json<RecsBody>()).source).toBe("model");
    expect(reads.filter((r) => r.key !== "models/current.json")).toEqual([]);
  });

  it("agrees with model.onnx on the same bundle: the same best movies, scores within the coarser uint8 query's rounding", async () => {
    const onnx = withoutKernel(b);
    const users = [1, 7, 42, 99, 150];
    await publish(env.MODELS, onnx);
    const byGraph = await Promise.all(users.map(async (u) => (await (await call(`/users/${u}/recs?k=20`)).json<RecsBody>()).recommendations));
    await publish(env.MODELS, b);
    app = createApp(new ModelStore());
    for (const [n, u] of users.entries()) {
      const got = (await (await call(`/users/${u}/recs?k=5`)).json<RecsBody>()).recommendations;
      expect(got).toHaveLength(5);
      const graph = new Map(byGraph[n].map((r) => [r.movieId, r.score]));
      const top = Math.abs(byGraph[n][0].score);
      for (const r of got) {
        // each of the kernel's best 5 is among the graph's best 20, with nearly the same score
        expect(graph.has(r.movieId)).toBe(true);
        expect(Math.abs(r.score - graph.get(r.movieId)!)).toBeLessThan(top * 0.02);
      }
    }
  });

  it("gives the reasons because.onnx gives: the same liked movie, nearly the same cosine", async () => {
    const history = ids.items.slice(0, 30).filter((_, i) => i % 2 === 0);
    await publish(env.MODELS, withoutKernel(b));
    app = createApp(new ModelStore());
    const byGraph = (await (await postRecs(history, 10)).json<RecsBody>()).recommendations;
    await publish(env.MODELS, b);
    app = createApp(new ModelStore());
    const byKernel = (await (await postRecs(history, 40)).json<RecsBody>()).recommendations;
    const kernelReason = new Map(byKernel.map((r) => [r.movieId, r.because]));
    let compared = 0;
    for (const r of byGraph) {
      const reason = kernelReason.get(r.movieId);
      if (!reason || !r.because) continue;
      compared++;
      // the same int8 table: exact integer dots against the graph's float ones, so a near tie may
      // pick another liked movie, but never one with a clearly lower cosine
      expect(Math.abs(reason.similarity - r.because.similarity)).toBeLessThan(0.01);
      if (reason.movieId !== r.because.movieId) expect(Math.abs(reason.similarity - r.because.similarity)).toBeLessThan(1e-3);
    }
    expect(compared).toBeGreaterThanOrEqual(8);
  });

  it("counts a known user's live rating at once: the movie is excluded and the ranking moves", async () => {
    await publish(env.MODELS, b);
    const before = (await (await call("/users/9/recs?k=5")).json<RecsBody>()).recommendations;
    await env.DB.prepare("INSERT INTO ratings (user_id, movie_id, rating, rated_at) VALUES (9, ?1, 5, 1)").bind(before[0].movieId).run();
    const after = (await (await call("/users/9/recs?k=5")).json<RecsBody>()).recommendations;
    expect(after.map((r) => r.movieId)).not.toContain(before[0].movieId);
    expect(after.map((r) => r.score)).not.toEqual(before.slice(1).map((r) => r.score));
    await env.DB.prepare("DELETE FROM ratings WHERE user_id = 9").run();
  });

  it("answers 503 when candidates.bin does not match the manifest's items", async () => {
    const broken = manifestOf(b);
    broken.version = `${b.version}-broken`;
    broken.items += 1;
    const bad: FixtureBundle = { version: broken.version, files: { ...b.files, [BUNDLE_FILES.manifest]: btoa(JSON.stringify(broken)) } };
    // written by hand: publish refuses such a bundle (and the pointer then keeps no previous version)
    await publish(env.MODELS, bad, { skip: [] });
    const res = await call(
      "/recs",
      {},
      { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ history: [{ movieId: ids.items[0], rating: 5 }] }) },
    );
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: "model_unavailable", message: expect.stringContaining("candidates.bin") });
  });
});
