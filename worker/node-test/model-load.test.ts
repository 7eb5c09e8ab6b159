// A model load either serves or leaves nothing behind: ONNX sessions hold wasm memory outside
// the JS heap, and a failed load that kept them grew the isolate by megabytes each time. Runs the
// Worker's own loading code in Node with a stand-in for onnxruntime-web that counts the sessions
// built and released; the loaded model's ranker and explainer are the ones its files call for.
import { createHash } from "node:crypto";
import onnxProto from "onnx-proto";
import { describe, expect, it, vi } from "vitest";
import { BUNDLE_FILES, type BundleFileKey, type Manifest, R2_POINTER, encodeInt8Table, encodeRated } from "../../training/src/contract/artifacts.ts";
import { compiledRankKernel } from "../../training/src/export/evaluate-graph.ts";
import { memoryBucket, publishedObjects } from "../bench/memory-bucket.ts";
import { type LoadedModel, type ModelBucket, type Ort, disposeModel, loadVersion, readPointer, warmUp } from "../src/model-load.ts";

const kernel = compiledRankKernel();
const VERSION = "v1";
const ITEMS = 3;

/**
 * onnxruntime-web's session factory, counting what is built and released; a graph of bytes
 * "broken" fails to build, one of bytes "late" passes ORT's check (a session built with options,
 * as graph-refusals.ts checks) and fails the build itself. Sessions run to an empty answer.
 */
function countingOrt() {
  const live = new Set<object>();
  const counts = { created: 0, released: 0, refused: 0, runs: 0 };
  const empty = new Proxy({}, { get: () => ({ data: new BigInt64Array(0) }) });
  const ort = {
    InferenceSession: {
      async create(bytes: Uint8Array, options?: object) {
        const text = new TextDecoder().decode(bytes);
        if (text.includes("broken") || (text.includes("late") && !options)) {
          counts.refused++;
          throw new Error("not an ONNX model");
        }
        counts.created++;
        const session = {
          inputNames: [],
          outputNames: [],
          run: async () => {
            counts.runs++;
            return empty;
          },
          async release() {
            if (!live.delete(session)) throw new Error("a session released twice");
            counts.released++;
          },
        };
        live.add(session);
        return session;
      },
    },
    Tensor: class {},
  } as unknown as Ort;
  return { ort, counts, live: () => live.size };
}

type Files = Partial<Record<Exclude<BundleFileKey, "manifest">, Uint8Array | string>>;

const table = (rows: number) => encodeInt8Table({ rows, dim: 4, scales: new Float32Array(rows).fill(0.01), values: new Int8Array(rows * 4).fill(3) });
const rated = encodeRated(2, ITEMS, [0, 1, 3], [0, 1, 2]);
const common: Files = {
  rated,
  movies: JSON.stringify(Array.from({ length: ITEMS }, (_, i) => ({ movieId: i + 1, title: `Movie ${i + 1}`, year: null, genres: [] }))),
  ids: JSON.stringify({ users: [1, 2], items: [1, 2, 3] }),
};
/** A model that ranks known users by their vector, with a fold-in, similar movies and reasons. */
const byVector = (changes: Files = {}) =>
  bundle({ recs: "user", foldin: "propagated" }, { ...common, model: "g", foldin: "g", similar: "g", because: "g", ...changes });
/** The large-catalogue shape: histories ranked by the int8 kernel, the reasons by it too. */
const byKernel = (changes: Files = {}) =>
  bundle(
    { recs: "history", foldin: "propagated" },
    { ...common, model: "g", history: rated, vector: "g", candidates: table(ITEMS), normalized: table(ITEMS), similar: "g", ...changes },
  );

/**
 * A stand-in graph: it declares the inputs the Worker feeds that graph (the load checks them) and
 * nothing else, named as given ("g", "broken" for one the stand-in ORT refuses, "late" for one it
 * refuses to build but not to check).
 */
function standInGraph(key: string, recs: Manifest["recs"], name: string): Uint8Array {
  const names: Record<string, string[]> = {
    model: recs === "history" ? ["history", "k", "exclude"] : ["user", "k", "exclude"],
    foldin: ["history", "k", "exclude"],
    similar: ["item", "k", "exclude"],
    because: ["items", "history"],
    vector: ["history"],
  };
  const { onnx } = onnxProto;
  const input = names[key].map((n) => ({ name: n, type: { tensorType: { elemType: onnx.TensorProto.DataType.INT64, shape: { dim: [{ dimParam: "n" }] } } } }));
  return onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: "", version: 13 }], graph: { name, input } }).finish();
}

/** A published bundle of stand-in graphs (the stand-in ORT never runs them), every checksum right. */
function bundle(fields: Pick<Manifest, "recs" | "foldin">, files: Files) {
  const hash = (algorithm: string, bytes: Uint8Array) => createHash(algorithm).update(bytes).digest("hex");
  const named = new Map<string, Uint8Array>();
  const info = {} as Manifest["files"];
  for (const [key, content] of Object.entries(files) as [Exclude<BundleFileKey, "manifest">, Uint8Array | string][]) {
    const graph = content === "g" || content === "broken" || content === "late";
    const bytes = graph ? standInGraph(key, fields.recs, content) : typeof content === "string" ? new TextEncoder().encode(content) : content;
    named.set(BUNDLE_FILES[key], bytes);
    info[key] = { bytes: bytes.byteLength, sha256: hash("sha256", bytes), md5: hash("md5", bytes) };
  }
  const manifest = { format: 1, version: VERSION, model: "test", dataset: "test", users: 2, items: ITEMS, dim: 4, ...fields, files: info } as Manifest;
  named.set(BUNDLE_FILES.manifest, new TextEncoder().encode(JSON.stringify(manifest)));
  return memoryBucket(publishedObjects(VERSION, named), true);
}

async function load(bucket: ModelBucket, ort: Ort): Promise<LoadedModel> {
  return loadVersion(bucket, await readPointer(bucket), ort, { kernel });
}

/**
 * The bucket with a pointer that carries its manifest's copy (changed by `copy`) and, unless
 * `keepManifest`, without manifest.json itself: a read of it then fails the load.
 */
async function withManifestCopy(bucket: ReturnType<typeof bundle>, copy?: (m: Manifest) => Manifest, keepManifest = false): Promise<ModelBucket> {
  const pointer = await readPointer(bucket);
  const manifest = JSON.parse(new TextDecoder().decode(await (await bucket.get(pointer.manifest))!.arrayBuffer())) as Manifest;
  const withCopy = { ...pointer, manifest_copy: copy ? copy(manifest) : manifest };
  return {
    ...bucket,
    async get(key, options) {
      if (key === pointer.manifest && !keepManifest) return null;
      if (key === R2_POINTER) return { json: async <T>() => withCopy as T, arrayBuffer: async () => new ArrayBuffer(0) };
      return bucket.get(key, options);
    },
  };
}

describe("a model load", () => {
  it("loads from the pointer's copy of the manifest without reading manifest.json, and reads it when the copy is another version's", async () => {
    const { ort, counts } = countingOrt();
    const model = await load(await withManifestCopy(byVector()), ort);
    expect(model.version).toBe(VERSION);
    await disposeModel(model);
    const other = (m: Manifest): Manifest => ({ ...m, version: "other" });
    // a pointer edited by hand: its copy is not this version's, and manifest.json is the truth
    await expect(load(await withManifestCopy(byVector(), other), ort)).rejects.toThrow(/manifest.json of v1 is missing|incomplete/);
    const fromFile = await load(await withManifestCopy(byVector(), other, true), ort);
    expect(fromFile.version).toBe(VERSION);
    await disposeModel(fromFile);
    expect(counts.released).toBe(counts.created);
  });

  it("builds one ranker, explainer and similar-movies graph as the files say, and releases each session once", async () => {
    const cases = [
      { bucket: byVector(), ranker: "onnx", foldsIn: true, similar: true, sessions: 4 },
      // model.onnx ranks histories, so it is the fold-in too: one session, released once
      {
        bucket: bundle({ recs: "history", foldin: "propagated" }, { ...common, model: "g", history: rated, similar: "g", because: "g" }),
        ranker: "onnx",
        foldsIn: true,
        similar: true,
        sessions: 3,
      },
      { bucket: byKernel(), ranker: "int8-kernel", foldsIn: true, similar: true, sessions: 2 },
    ];
    for (const c of cases) {
      const { ort, counts, live } = countingOrt();
      const model = await load(c.bucket, ort);
      expect(model.ranker.kind).toBe(c.ranker);
      expect(model.ranker.foldsIn).toBe(c.foldsIn);
      expect(model.similar !== null).toBe(c.similar);
      expect(counts.created).toBe(c.sessions);
      await disposeModel(model);
      expect(counts.released).toBe(c.sessions);
      expect(live()).toBe(0);
    }
    // a model without a fold-in ranks known users only; without because.onnx it gives no reasons
    const { ort } = countingOrt();
    const plain = await load(bundle({ recs: "user", foldin: null }, { ...common, model: "g" }), ort);
    expect(plain.ranker.foldsIn).toBe(false);
    expect(plain.similar).toBeNull();
    expect(await plain.explainer.explain([0], [1])).toBeNull();
    await disposeModel(plain);
  });

  it("builds nothing when a check refuses the bundle after its files were verified", async () => {
    const refused = [
      byVector({ ids: "{ not json" }),
      byVector({ movies: "[" }),
      byVector({ rated: new Uint8Array(8) }),
      byKernel({ candidates: table(ITEMS + 1) }),
      byKernel({ normalized: new Uint8Array(20) }),
    ];
    for (const bucket of refused) {
      const { ort, counts } = countingOrt();
      await expect(load(bucket, ort)).rejects.toThrow();
      expect(counts.created).toBe(0);
    }
  });

  it("releases the sessions it had built when a later one fails to build", async () => {
    for (const bucket of [byVector({ because: "broken" }), byVector({ similar: "broken" }), byKernel({ similar: "broken" })]) {
      const { ort, counts, live } = countingOrt();
      await expect(load(bucket, ort)).rejects.toThrow("not an ONNX model");
      expect(counts.created).toBeGreaterThan(0);
      expect(counts.released).toBe(counts.created);
      expect(live()).toBe(0);
    }
  });

  it("leaves nothing behind over many failed loads", async () => {
    const { ort, counts, live } = countingOrt();
    for (let n = 0; n < 50; n++) await expect(load(n % 2 ? byVector({ ids: "[" }) : byVector({ because: "broken" }), ort)).rejects.toThrow();
    expect(live()).toBe(0);
    expect(counts.released).toBe(counts.created);
  });

  it("builds the first list's sessions at load and the fold-in's and similar movies' on first use, once each, all released together", async () => {
    const { ort, counts, live } = countingOrt();
    const model = await load(byVector(), ort);
    // model.onnx and because.onnx are built; foldin.onnx and similar.onnx only checked (built and released at once)
    expect(live()).toBe(2);
    expect(counts.created - counts.released).toBe(2);
    await model.ranker.rankHistory([0], 2, []);
    await model.ranker.rankHistory([1], 2, []);
    expect(live()).toBe(3);
    await model.similar!.rank(0, 2, []);
    await model.similar!.rank(1, 2, []);
    expect(live()).toBe(4);
    expect(model.sessions.list).toHaveLength(4);
    await disposeModel(model);
    expect(live()).toBe(0);
    expect(counts.released).toBe(counts.created);
  });

  it("answers a graph that fails its build on first use with the same 503 each time, built once and nothing kept", async () => {
    const { ort, counts, live } = countingOrt();
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const model = await load(byVector({ similar: "late", foldin: "late" }), ort);
      expect(live()).toBe(2);
      for (const use of [() => model.similar!.rank(0, 2, []), () => model.ranker.rankHistory([0], 2, [])]) {
        const refusedBefore = counts.refused;
        for (let n = 0; n < 3; n++) await expect(use()).rejects.toMatchObject({ status: 503, code: "model_unavailable" });
        // built once: the failure is kept, ORT is not asked again
        expect(counts.refused - refusedBefore).toBe(1);
      }
      expect(live()).toBe(2);
      // the known users' list is not affected
      expect(await model.ranker.rankUser({ index: 0, rated: new Uint32Array(0), history: null }, 2, [])).toEqual([]);
      expect(errors).toHaveBeenCalled();
      await disposeModel(model);
      expect(live()).toBe(0);
      expect(counts.released).toBe(counts.created);
    } finally {
      errors.mockRestore();
    }
  });

  it("refuses at load a bundle whose lazily built graph fails ORT's check", async () => {
    for (const broken of [{ similar: "broken" }, { foldin: "broken" }] as Files[]) {
      const { ort, counts, live } = countingOrt();
      await expect(load(byVector(broken), ort)).rejects.toThrow("not an ONNX model");
      expect(live()).toBe(0);
      expect(counts.released).toBe(counts.created);
    }
  });

  it("releases at once a session whose build finishes after its model was released, and builds none after", async () => {
    const { ort, counts, live } = countingOrt();
    const model = await load(byVector(), ort);
    const racing = model.similar!.rank(0, 2, []);
    await disposeModel(model);
    await expect(racing).rejects.toMatchObject({ status: 503 });
    expect(live()).toBe(0);
    const created = counts.created;
    await expect(model.ranker.rankHistory([0], 2, [])).rejects.toMatchObject({ status: 503 });
    expect(counts.created).toBe(created);
    expect(counts.released).toBe(counts.created);
  });

  it("warms a loaded model up with one ranking and one explanation, and never rejects", async () => {
    const { ort, counts } = countingOrt();
    const model = await load(byVector(), ort);
    expect(counts.runs).toBe(0);
    await warmUp(model);
    // model.onnx ranked once, because.onnx explained once; nothing built on first use
    expect(counts.runs).toBe(2);
    expect(model.sessions.list).toHaveLength(2);
    await disposeModel(model);
    // on a released model the runs fail: the warm-up still resolves
    const failing = { ...model, ranker: { ...model.ranker, rankUser: () => Promise.reject(new Error("released")) } };
    await expect(warmUp(failing)).resolves.toBeUndefined();
  });
});
