// Writes the serving bundle of a trained model into artifacts/<model>/: the ONNX top-K graphs,
// the rated-movies lists, movie metadata, id maps and, last, the manifest with every file's
// size and checksums and the metrics of the exported model.onnx.
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  BECAUSE_GRAPH,
  BUNDLE_FILES,
  type BundleFileInfo,
  type BundleFileKey,
  EMBEDDINGS_FILE,
  type IdMaps,
  type Manifest,
  type MetricsFile,
  type PerUserStore,
  perUserOutside,
  encodeUserRecords,
  recsTakesHistory,
  type MovieMeta,
  SIMILAR_GRAPH,
  decodeInt8Table,
  encodeInt8Table,
  encodeRated,
  modelDir,
} from "../contract/artifacts.ts";
import type { Dataset } from "../data/parse.ts";
import type { Split } from "../protocol/protocols.ts";
import { writeFileAtomic, writeJsonAtomic } from "../util/fs-atomic.ts";
import { evaluateGraph, evaluateVectorKernel } from "./evaluate-graph.ts";
import { quantizeRows } from "../models/foldin.ts";
import { buildBecauseGraph, buildCompactBecauseGraph, buildCompactSimilarGraph, buildTopKGraph } from "./onnx-graph.ts";

/** The models training writes a serving graph for (an embedding or a fold-in served from histories). */
const EXPORTABLE = "lightgcn, mf, ngcf, ials, ease, blend";

export interface Embeddings {
  users: Float32Array;
  items: Float32Array;
  dim: number;
}

export function writeEmbeddings(dir: string, e: Embeddings): void {
  const all = new Float32Array(e.users.length + e.items.length);
  all.set(e.users);
  all.set(e.items, e.users.length);
  writeFileAtomic(join(dir, EMBEDDINGS_FILE), new Uint8Array(all.buffer));
}

export function readEmbeddings(dir: string, users: number, items: number): Embeddings {
  const path = join(dir, EMBEDDINGS_FILE);
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch {
    throw new Error(`${path} is missing: train the model first (npm run train -- --model ...); only embedding models can be exported`);
  }
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const dim = all.length / (users + items);
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`${path} holds ${all.length} floats, not (${users} + ${items}) x dim`);
  return { users: all.subarray(0, users * dim), items: all.subarray(users * dim), dim };
}

/** Every movie each model user rated in the dataset, any rating, as internal item indices. */
function ratedLists(data: Dataset, split: Split): { indptr: Int32Array; indices: Int32Array } {
  const userIndex = new Map(Array.from(split.userIds, (id, i) => [id, i]));
  const itemIndex = new Map(Array.from(split.itemIds, (id, i) => [id, i]));
  const users = split.userIds.length;
  const lists: number[][] = Array.from({ length: users }, () => []);
  const r = data.ratings;
  for (let k = 0; k < r.length; k++) {
    const u = userIndex.get(r.user[k]);
    const i = itemIndex.get(r.item[k]);
    if (u !== undefined && i !== undefined) lists[u].push(i);
  }
  const indptr = new Int32Array(users + 1);
  lists.forEach((l, u) => {
    l.sort((a, b) => a - b);
    indptr[u + 1] = indptr[u] + l.length;
  });
  return { indptr, indices: Int32Array.from(lists.flat()) };
}

function readTrainedGraph(dir: string, file: string, model: string): Uint8Array {
  const path = join(dir, file);
  try {
    return readFileSync(path);
  } catch {
    throw new Error(`${path} is missing although metrics.json says training wrote it: train the model again (npm run train -- --model ${model})`);
  }
}

function normalizedRows(data: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < data.length / dim; r++) {
    let n = 0;
    for (let c = 0; c < dim; c++) n += data[r * dim + c] ** 2;
    const inv = n > 0 ? 1 / Math.sqrt(n) : 0;
    for (let c = 0; c < dim; c++) out[r * dim + c] = data[r * dim + c] * inv;
  }
  return out;
}

function info(bytes: Uint8Array | string): BundleFileInfo {
  const b = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
  return { bytes: b.byteLength, sha256: createHash("sha256").update(b).digest("hex"), md5: createHash("md5").update(b).digest("hex") };
}

/** Files training wrote into the model's folder, which export reads and lists but does not rewrite. */
const TRAINED_FILES: readonly string[] = ["model", "foldin", "vector", "candidates"];

const arrayBufferOf = (b: Uint8Array): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/** A unique version id: the model, the time to the millisecond, and a random suffix. */
export function versionFor(model: string, date = new Date()): string {
  return `${model}-${date.toISOString().replace(/[-:.]/g, "")}-${randomBytes(3).toString("hex")}`;
}

export interface ExportOptions {
  version?: string;
  log?: (line: string) => void;
  /** Where the Worker reads per-user data; default "d1" above PER_USER_OUTSIDE_ABOVE users. */
  perUser?: PerUserStore;
}

/**
 * Above this many users, per-user data stays out of the isolate (its memory is 128 MB): in D1,
 * read in the live ratings' round trip (bench:stores measured it against R2 and KV; see README).
 */
export const PER_USER_OUTSIDE_ABOVE = 50_000;

/**
 * Writes the bundle of a trained model from what training left in artifacts/<model>/ (metrics,
 * serving graphs, embeddings when the model has them) and evaluates its model.onnx: the
 * manifest's metrics are those of the served graph.
 */
export async function exportBundle(metrics: MetricsFile, data: Dataset, split: Split, artifactsDir: string, opts: ExportOptions = {}): Promise<Manifest> {
  const dir = join(artifactsDir, modelDir(metrics.model));
  const users = split.userIds.length;
  const items = split.itemIds.length;
  const recs = metrics.recs ?? (existsSync(join(dir, EMBEDDINGS_FILE)) ? "user" : null);
  if (!recs) {
    throw new Error(`${metrics.model} has no serving graph: only models whose training writes model.onnx can be exported (${EXPORTABLE})`);
  }
  const recsGraph = readTrainedGraph(dir, BUNDLE_FILES.model, metrics.model);
  const emb = existsSync(join(dir, EMBEDDINGS_FILE)) ? readEmbeddings(dir, users, items) : null;
  const movieById = new Map(data.movies.map((m) => [m.movieId, m]));
  const movies: MovieMeta[] = Array.from(split.itemIds, (id) => {
    const m = movieById.get(id);
    return { movieId: id, title: m?.title ?? `Movie ${id}`, year: m?.year ?? null, genres: m?.genres ?? [] };
  });
  const perUser = opts.perUser ?? (users > PER_USER_OUTSIDE_ABOVE ? "d1" : "bundle");
  const outside = perUserOutside(perUser);
  // with per-user data out of the isolate, users.bin maps ids to indices: ids.json keeps the items only
  const ids: IdMaps = { users: outside ? [] : Array.from(split.userIds), items: Array.from(split.itemIds) };
  const rated = ratedLists(data, split);

  const files: Partial<Record<Exclude<BundleFileKey, "manifest">, Uint8Array | string>> = {
    model: recsGraph,
    rated: encodeRated(users, items, rated.indptr, rated.indices),
    movies: JSON.stringify(movies),
    ids: JSON.stringify(ids),
  };
  // a history-ranked graph scores each known user's train positives: the history it was evaluated on
  if (recsTakesHistory(recs)) files.history = encodeRated(users, items, split.train.indptr, split.train.indices);
  else if (metrics.foldin) files.foldin = readTrainedGraph(dir, BUNDLE_FILES.foldin, metrics.model);
  // the Worker's own int8 ranking (see writeKernelFiles): both files, or neither
  const kernel =
    existsSync(join(dir, BUNDLE_FILES.vector)) && existsSync(join(dir, BUNDLE_FILES.candidates))
      ? { vector: readTrainedGraph(dir, BUNDLE_FILES.vector, metrics.model), candidates: readTrainedGraph(dir, BUNDLE_FILES.candidates, metrics.model) }
      : null;
  if (kernel) Object.assign(files, kernel);
  if (outside) {
    files.users = encodeUserRecords(split.userIds, rated, recsTakesHistory(recs) ? split.train : null);
    const popularity = new Uint32Array(items);
    for (const i of rated.indices) popularity[i]++;
    files.popularity = new Uint8Array(popularity.buffer);
  }
  if (emb && metrics.params.item_precision === "compact") {
    // int8 normalized embeddings with a scale per item, as the compact fold-in scores
    const q = quantizeRows(normalizedRows(emb.items, emb.dim), items, emb.dim);
    files.similar = buildCompactSimilarGraph(`${metrics.model} similar items`, q, items, emb.dim, SIMILAR_GRAPH);
    files.because = buildCompactBecauseGraph(`${metrics.model} because`, q, items, emb.dim, BECAUSE_GRAPH);
    // the same table for the Worker's kernel, which finds the reasons without because.onnx
    if (kernel) files.normalized = encodeInt8Table({ rows: items, dim: emb.dim, ...q });
  } else if (emb) {
    const normalized = normalizedRows(emb.items, emb.dim);
    files.similar = buildTopKGraph({
      name: `${metrics.model} similar items`,
      queries: null,
      candidates: { name: SIMILAR_GRAPH.initializers.candidates, data: normalized, rows: items },
      dim: emb.dim,
      inputs: SIMILAR_GRAPH.inputs,
      outputs: SIMILAR_GRAPH.outputs,
      docString: "Cosine similarity of one item's embedding with every item's, excluding the given items, top k.",
    });
    files.because = buildBecauseGraph(`${metrics.model} because`, normalized, items, emb.dim, BECAUSE_GRAPH);
  }
  // the metrics are those of what the Worker runs: model.onnx, or vector.onnx and the int8 kernel
  const servedBy = kernel ? "vector.onnx with the int8 kernel" : "model.onnx";
  opts.log?.(`${metrics.model}: evaluating the exported ${servedBy} (valid and test, full ranking over every item)`);
  const served = kernel
    ? await evaluateVectorKernel(kernel.vector, decodeInt8Table(arrayBufferOf(kernel.candidates)), split)
    : await evaluateGraph(recsGraph, recs, split);
  const over = served.sampleUsers ? `a fixed sample of ${served.sampleUsers.toLocaleString("en-US")} test users, one graph run each` : "every test user";
  opts.log?.(
    `${metrics.model}: ${servedBy} test NDCG@10 ${served.test["ndcg@10"].toFixed(4)}, Recall@10 ${served.test["recall@10"].toFixed(4)} over ${over} (${served.seconds.toFixed(1)} s)`,
  );

  const fileInfo = {} as Manifest["files"];
  for (const [key, content] of Object.entries(files) as [Exclude<BundleFileKey, "manifest">, Uint8Array | string][]) {
    if (!TRAINED_FILES.includes(key)) writeFileAtomic(join(dir, BUNDLE_FILES[key]), content);
    fileInfo[key] = info(content);
  }
  for (const key of ["similar", "because", "normalized", "history", "users", "popularity"] as const)
    if (!files[key]) rmSync(join(dir, BUNDLE_FILES[key]), { force: true });
  const manifest: Manifest = {
    format: 1,
    version: opts.version ?? versionFor(metrics.model),
    created: new Date().toISOString(),
    dataset: metrics.dataset,
    protocol: metrics.protocol,
    seed: metrics.seed,
    model: metrics.model,
    params: metrics.params,
    metrics: served.test,
    valid: served.valid,
    ...(served.sampleUsers ? { metrics_users: served.sampleUsers } : {}),
    recs,
    ...(outside ? { per_user: perUser, max_user_id: split.userIds.reduce((m, id) => Math.max(m, id), 0) } : {}),
    users,
    items,
    dim: emb?.dim ?? 0,
    foldin: metrics.foldin ?? null,
    files: fileInfo,
  };
  writeJsonAtomic(join(dir, BUNDLE_FILES.manifest), manifest);
  return manifest;
}
