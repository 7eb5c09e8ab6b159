// The serving bundle made by the real exporter from a LightGCN trained on ML-100K: the ONNX
// graph agrees with a plain TypeScript scorer, and the reported test metrics can be recomputed
// from model.onnx and artifacts/split/ alone.
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as ort from "onnxruntime-web";
import { beforeAll, describe, expect, it } from "vitest";
import {
  BUNDLE_FILES,
  type IdMaps,
  type Manifest,
  type MetricsFile,
  RECS_GRAPH,
  SIMILAR_GRAPH,
  SPLIT_DIR,
  SPLIT_FILES,
  decodeRated,
  type FallbackFile,
} from "../src/contract/artifacts.ts";
import { fallbackScores } from "../src/export/fallback.ts";
import { exportSaved, readEmbeddings } from "../src/export/bundle.ts";
import { type Catalogue, FALLBACK_NEIGHBOURS } from "../src/export/catalogue.ts";
import { readSplit } from "../src/pipeline/split-files.ts";
import { csrFromTriples } from "../src/protocol/csr.ts";
import { MetricAccumulator } from "../src/eval/metrics.ts";
import { runPipeline } from "../src/pipeline/pipeline.ts";
import { Rng } from "../src/util/rng.ts";
import { realDatasetDir } from "./real-data.ts";

ort.env.wasm.numThreads = 1;
const ml100k = realDatasetDir("ml-100k");

function tensor(values: number[]): ort.Tensor {
  return new ort.Tensor("int64", BigInt64Array.from(values.map(BigInt)), [values.length]);
}

async function topK(
  session: ort.InferenceSession,
  query: number,
  k: number,
  exclude: number[],
  inputs: { query: string; k: string; exclude: string },
): Promise<{ items: number[]; scores: number[] }> {
  const out = await session.run({ [inputs.query]: tensor([query]), [inputs.k]: tensor([k]), [inputs.exclude]: tensor(exclude) });
  return { items: Array.from(out.items.data as BigInt64Array, Number), scores: Array.from(out.scores.data as Float32Array) };
}

function readTsv(path: string): [number, number][] {
  const lines = readFileSync(path, "utf8").trim().split("\n");
  expect(lines[0]).toBe("user_id\tmovie_id");
  return lines.slice(1).map((l) => l.split("\t").map(Number) as [number, number]);
}

/** Trains one model on ML-100K (seed 3) into a fresh artifacts folder, which it returns. */
async function trainOnMl100k(model: string, params: Record<string, number | string>, tune = true): Promise<string> {
  const artifacts = mkdtempSync(join(tmpdir(), "edgerec-artifacts-"));
  await runPipeline({
    models: [model],
    dataset: "ml-100k",
    protocol: "recbole",
    seed: 3,
    from: dirname(ml100k!),
    dataDir: mkdtempSync(join(tmpdir(), "edgerec-data-")),
    artifacts,
    params,
    tune,
    log: () => {},
  });
  return artifacts;
}

describe.skipIf(!ml100k)("export of a LightGCN trained on ML-100K", () => {
  let artifacts: string;
  let dir: string;
  let metrics: MetricsFile;
  let manifest: Manifest;
  let session: ort.InferenceSession;

  beforeAll(async () => {
    artifacts = await trainOnMl100k("lightgcn", { epochs: 8, batch: 2048, lr: 0.01, eval_every: 2 });
    dir = join(artifacts, "lightgcn");
    metrics = JSON.parse(readFileSync(join(dir, "metrics.json"), "utf8"));
    manifest = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.manifest), "utf8"));
    session = await ort.InferenceSession.create(readFileSync(join(dir, BUNDLE_FILES.model)));
  });

  it("writes a manifest whose sizes and sha256 match the files", () => {
    expect(manifest.model).toBe("lightgcn");
    // the manifest's metrics are model.onnx's own; for an embedding model they are the trained
    // model's up to float rounding in ties
    for (const [key, value] of Object.entries(metrics.test)) expect(manifest.metrics[key as keyof typeof manifest.metrics]).toBeCloseTo(value, 2);
    expect(manifest.valid?.["ndcg@10"]).toBeCloseTo(metrics.valid!["ndcg@10"], 2);
    expect(manifest.recs).toBe("user");
    for (const [key, f] of Object.entries(manifest.files)) {
      const bytes = readFileSync(join(dir, BUNDLE_FILES[key as keyof typeof BUNDLE_FILES]));
      expect(bytes.byteLength).toBe(f.bytes);
      expect(createHash("sha256").update(bytes).digest("hex")).toBe(f.sha256);
    }
  });

  it("serves every rated movie: the protocol's first, then the rest, which the model has no vector for", () => {
    const ids: IdMaps = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.ids), "utf8"));
    const movies = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.movies), "utf8")) as { movieId: number }[];
    // ML-100K: 1,682 movies, every one rated; the protocol keeps those of the 10-core
    expect(manifest.items).toBe(1682);
    expect(manifest.model_items).toBe(metrics.counts.items);
    expect(manifest.model_items).toBeLessThan(manifest.items);
    expect(movies.map((m) => m.movieId)).toEqual(ids.items);
    expect(new Set(ids.items).size).toBe(1682);
    const trained = ids.items.slice(0, manifest.model_items);
    expect(trained).toEqual([...trained].sort((a, b) => a - b));
  });

  it("returns the same top-K as a plain TypeScript scorer (the fallback movies by their neighbours' mean), never an excluded item", async () => {
    const modelItems = manifest.model_items!;
    const emb = readEmbeddings(dir, manifest.users, modelItems);
    const fallback = JSON.parse(readFileSync(join(artifacts, SPLIT_DIR, SPLIT_FILES.fallback), "utf8")) as FallbackFile;
    let fallbackInTop = 0;
    const buf = readFileSync(join(dir, BUNDLE_FILES.rated));
    const rated = decodeRated(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    const rng = new Rng(4);
    const d = emb.dim;
    for (let n = 0; n < 40; n++) {
      const u = rng.int(manifest.users);
      const exclude = Array.from(rated.indices.subarray(rated.indptr[u], rated.indptr[u + 1]));
      const got = await topK(session, u, 10, exclude, RECS_GRAPH.inputs);
      const excluded = new Set(exclude);
      const own = Array.from({ length: modelItems }, (_, i) => emb.users.subarray(u * d, u * d + d).reduce((acc, x, c) => acc + x * emb.items[i * d + c], 0));
      const scores = [...own, ...fallbackScores(fallback, own)];
      const expected = scores
        .map((s, i) => ({ i, s }))
        .filter(({ i }) => !excluded.has(i))
        .sort((a, b) => b.s - a.s || a.i - b.i)
        .slice(0, 10);
      expect(got.items).toEqual(expected.map((e) => e.i));
      for (const [r, s] of got.scores.entries()) expect(s).toBeCloseTo(expected[r].s, 4);
      for (const i of got.items) expect(excluded.has(i)).toBe(false);
      // with its top movies excluded, a user is recommended fallback movies too
      const deeper = await topK(session, u, 200, exclude, RECS_GRAPH.inputs);
      for (const [r, i] of deeper.items.entries()) {
        if (i < modelItems) continue;
        fallbackInTop++;
        expect(deeper.scores[r]).toBeCloseTo(scores[i], 4);
      }
    }
    expect(fallbackInTop).toBeGreaterThan(0);
  });

  it("finds each movie most similar to itself when it is not excluded", async () => {
    const similar = await ort.InferenceSession.create(readFileSync(join(dir, BUNDLE_FILES.similar)));
    const got = await topK(similar, 7, 3, [], SIMILAR_GRAPH.inputs);
    expect(got.items[0]).toBe(7);
    expect(got.scores[0]).toBeCloseTo(1, 5);
  });

  it("reproduces the reported test metrics from model.onnx and artifacts/split/ alone", async () => {
    const split = Object.fromEntries((["train", "valid", "test"] as const).map((k) => [k, readTsv(join(artifacts, SPLIT_DIR, SPLIT_FILES[k]))]));
    // internal indices are the ranks of the MovieLens ids, as the exporter's id maps record
    const all = [...split.train, ...split.valid, ...split.test];
    const userIndex = new Map([...new Set(all.map(([u]) => u))].sort((a, b) => a - b).map((id, i) => [id, i]));
    const itemIndex = new Map([...new Set(all.map(([, i]) => i))].sort((a, b) => a - b).map((id, i) => [id, i]));
    const ids: IdMaps = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.ids), "utf8"));
    expect(ids.users).toEqual([...userIndex.keys()]);
    const seen = new Map<number, number[]>();
    const held = new Map<number, Set<number>>();
    for (const [u, i] of [...split.train, ...split.valid]) seen.set(userIndex.get(u)!, [...(seen.get(userIndex.get(u)!) ?? []), itemIndex.get(i)!]);
    for (const [u, i] of split.test) held.set(userIndex.get(u)!, (held.get(userIndex.get(u)!) ?? new Set()).add(itemIndex.get(i)!));
    const acc = new MetricAccumulator([10, 20]);
    for (const [u, relevant] of [...held.entries()].sort((a, b) => a[0] - b[0])) {
      // the protocol ranks its own items: the served fallback movies are excluded
      const fallbackMovies = Array.from({ length: manifest.items - manifest.model_items! }, (_, e) => manifest.model_items! + e);
      const { items } = await topK(session, u, 20, [...(seen.get(u) ?? []), ...fallbackMovies], RECS_GRAPH.inputs);
      acc.add(items, items.length, (i) => relevant.has(i), relevant.size);
    }
    const recomputed = acc.result();
    for (const key of ["recall@10", "ndcg@10", "precision@10", "recall@20", "ndcg@20"] as const) {
      expect(recomputed[key]).toBeCloseTo(manifest.metrics[key], 9);
    }
  });
});

describe.skipIf(!ml100k)("export of EASE trained on ML-100K: a graph that ranks histories", () => {
  let artifacts: string;
  let dir: string;
  let metrics: MetricsFile;
  let manifest: Manifest;

  beforeAll(async () => {
    artifacts = await trainOnMl100k("ease", { lambda: 300 }, false);
    dir = join(artifacts, "ease");
    metrics = JSON.parse(readFileSync(join(dir, "metrics.json"), "utf8"));
    manifest = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.manifest), "utf8"));
  });

  it("writes model.onnx over history and k, history.bin, and no fold-in, similar or because graph", async () => {
    expect(manifest.recs).toBe("history");
    expect(manifest.foldin).toBe("item-item");
    expect(Object.keys(manifest.files).sort()).toEqual(["history", "ids", "model", "movies", "popular", "rated"]);
    const session = await ort.InferenceSession.create(readFileSync(join(dir, BUNDLE_FILES.model)));
    expect(session.inputNames).toEqual([RECS_GRAPH.inputs.history, RECS_GRAPH.inputs.k, RECS_GRAPH.inputs.exclude]);
    // B in half precision: about half the bytes of float32
    expect(manifest.files.model.bytes).toBeLessThan(manifest.model_items! ** 2 * 2 + 400_000);
  });

  it("stores each user's train positives in history.bin, and its metrics are model.onnx's, near the trained model's", async () => {
    const buf = readFileSync(join(dir, BUNDLE_FILES.history));
    const history = decodeRated(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    const train = readTsv(join(artifacts, SPLIT_DIR, SPLIT_FILES.train));
    expect(history.indptr[history.users]).toBe(train.length);
    const ids: IdMaps = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.ids), "utf8"));
    const [u, i] = train[0];
    const row = Array.from(history.indices.subarray(history.indptr[ids.users.indexOf(u)], history.indptr[ids.users.indexOf(u) + 1]));
    expect(row).toContain(ids.items.indexOf(i));
    // half precision moves the ranking a little, not the quality
    for (const key of ["recall@10", "ndcg@10"] as const) expect(Math.abs(manifest.metrics[key] - metrics.test[key])).toBeLessThan(0.005);
  });

  it("reports the protocol's metrics: the same as a bundle of the protocol's movies alone", async () => {
    const { split, catalogue } = readSplit(artifacts);
    const own = split.itemIds.length;
    expect(catalogue.movies.length).toBeGreaterThan(own);
    const rows: number[] = [];
    const cols: number[] = [];
    for (let u = 0; u < catalogue.rated.rows; u++)
      for (let p = catalogue.rated.indptr[u]; p < catalogue.rated.indptr[u + 1]; p++)
        if (catalogue.rated.indices[p] < own) {
          rows.push(u);
          cols.push(catalogue.rated.indices[p]);
        }
    const protocolOnly: Catalogue = {
      movies: catalogue.movies.slice(0, own),
      rated: csrFromTriples(catalogue.rated.rows, own, rows, cols),
      fallback: { k: catalogue.fallback.k, neighbours: [], weights: [] },
      popular: catalogue.popular,
    };
    const elsewhere = mkdtempSync(join(tmpdir(), "edgerec-protocol-only-"));
    cpSync(dir, join(elsewhere, "ease"), { recursive: true });
    const alone = await exportSaved("ease", { split, catalogue: protocolOnly }, elsewhere, {});
    expect(alone.items).toBe(own);
    expect(manifest.items).toBe(catalogue.movies.length);
    expect(manifest.metrics).toEqual(alone.metrics);
    expect(manifest.valid).toEqual(alone.valid);
  });
});

describe.skipIf(!ml100k)("export of a LightGCN served from histories (serve_from=history)", () => {
  it("with item_precision=compact, stores float16 and int8 tables, about a third of float32's, with the kernel's files, and scores close to it", async () => {
    const params = { epochs: 4, batch: 2048, lr: 0.01, eval_every: 2, serve_from: "history" };
    const plain = JSON.parse(readFileSync(join(await trainOnMl100k("lightgcn", params), "lightgcn", BUNDLE_FILES.manifest), "utf8")) as Manifest;
    const compact = JSON.parse(
      readFileSync(join(await trainOnMl100k("lightgcn", { ...params, item_precision: "compact" }), "lightgcn", BUNDLE_FILES.manifest), "utf8"),
    ) as Manifest;
    for (const file of ["similar", "because"] as const) expect(compact.files[file]!.bytes).toBeLessThan(0.45 * plain.files[file]!.bytes);
    // model.onnx beside the model's tables: the fallback's (an int32 neighbour and a float32 weight per slot), the same in both
    const fallbackBytes = (plain.items - plain.model_items!) * FALLBACK_NEIGHBOURS * 8;
    expect(compact.files.model.bytes - fallbackBytes).toBeLessThan(0.45 * (plain.files.model.bytes - fallbackBytes));
    // the Worker ranks compact bundles with its own int8 kernel: the vector graph and the table,
    // one int8 row and a float32 scale per item; the manifest's metrics are the kernel's
    expect(compact.files.vector).toBeDefined();
    expect(compact.files.candidates!.bytes).toBe(16 + compact.items * (compact.dim + 4));
    expect(plain.files.vector).toBeUndefined();
    expect(plain.files.candidates).toBeUndefined();
    expect(Math.abs(compact.metrics["ndcg@10"] - plain.metrics["ndcg@10"])).toBeLessThan(0.01);
  });

  it("writes model.onnx as the fold-in over history and k, with no user table, history.bin and no foldin.onnx", async () => {
    const artifacts = await trainOnMl100k("lightgcn", { epochs: 4, batch: 2048, lr: 0.01, eval_every: 2, serve_from: "history" });
    const dir = join(artifacts, "lightgcn");
    const manifest = JSON.parse(readFileSync(join(dir, BUNDLE_FILES.manifest), "utf8")) as Manifest;
    expect(manifest.recs).toBe("history");
    expect(manifest.foldin).toBe("propagated");
    expect(Object.keys(manifest.files)).toContain("history");
    expect(Object.keys(manifest.files)).not.toContain("foldin");
    const session = await ort.InferenceSession.create(readFileSync(join(dir, BUNDLE_FILES.model)));
    expect(session.inputNames).toEqual([RECS_GRAPH.inputs.history, RECS_GRAPH.inputs.k, RECS_GRAPH.inputs.exclude]);
    // no user_embedding initializer: the graph is the size of the item tables
    expect(manifest.files.model.bytes).toBeLessThan(2 * manifest.items * manifest.dim * 4 + 10_000);
  });
});
