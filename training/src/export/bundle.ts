// Writes the serving bundle of an embedding model into artifacts/<model>/: the ONNX top-K
// graphs, the rated-movies lists, movie metadata, id maps and, last, the manifest with every
// file's size and sha256.
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  BECAUSE_GRAPH,
  BUNDLE_FILES,
  type BundleFileInfo,
  EMBEDDINGS_FILE,
  type IdMaps,
  type Manifest,
  type MetricsFile,
  type MovieMeta,
  RECS_GRAPH,
  SIMILAR_GRAPH,
  encodeRated,
  modelDir,
} from "../contract/artifacts.ts";
import type { Dataset } from "../data/parse.ts";
import type { Split } from "../protocol/protocols.ts";
import { writeFileAtomic, writeJsonAtomic } from "../util/fs-atomic.ts";
import { buildBecauseGraph, buildTopKGraph } from "./onnx-graph.ts";

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

function readFoldInGraph(dir: string): Uint8Array {
  const path = join(dir, BUNDLE_FILES.foldin);
  try {
    return readFileSync(path);
  } catch {
    throw new Error(`${path} is missing although metrics.json names a fold-in: train the model again (npm run train -- --model ...)`);
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

/** A unique version id: the model, the time to the millisecond, and a random suffix. */
export function versionFor(model: string, date = new Date()): string {
  return `${model}-${date.toISOString().replace(/[-:.]/g, "")}-${randomBytes(3).toString("hex")}`;
}

export function exportBundle(
  metrics: MetricsFile,
  emb: Embeddings,
  data: Dataset,
  split: Split,
  artifactsDir: string,
  version = versionFor(metrics.model),
): Manifest {
  const dir = join(artifactsDir, modelDir(metrics.model));
  const users = split.userIds.length;
  const items = split.itemIds.length;
  if (emb.users.length !== users * emb.dim || emb.items.length !== items * emb.dim) {
    throw new Error(`embeddings (${emb.users.length / emb.dim} users, ${emb.items.length / emb.dim} items) do not match the split (${users}, ${items})`);
  }
  const movieById = new Map(data.movies.map((m) => [m.movieId, m]));
  const movies: MovieMeta[] = Array.from(split.itemIds, (id) => {
    const m = movieById.get(id);
    return { movieId: id, title: m?.title ?? `Movie ${id}`, year: m?.year ?? null, genres: m?.genres ?? [] };
  });
  const ids: IdMaps = { users: Array.from(split.userIds), items: Array.from(split.itemIds) };
  const rated = ratedLists(data, split);

  const normalized = normalizedRows(emb.items, emb.dim);
  const files = {
    model: buildTopKGraph({
      name: `${metrics.model} recommendations`,
      queries: { name: RECS_GRAPH.initializers.queries, data: emb.users, rows: users },
      candidates: { name: RECS_GRAPH.initializers.candidates, data: emb.items, rows: items },
      dim: emb.dim,
      inputs: RECS_GRAPH.inputs,
      outputs: RECS_GRAPH.outputs,
      docString: "Scores every item by dot product with the user's final embedding, excludes the given items, returns the top k.",
    }),
    similar: buildTopKGraph({
      name: `${metrics.model} similar items`,
      queries: null,
      candidates: { name: SIMILAR_GRAPH.initializers.candidates, data: normalized, rows: items },
      dim: emb.dim,
      inputs: SIMILAR_GRAPH.inputs,
      outputs: SIMILAR_GRAPH.outputs,
      docString: "Cosine similarity of one item's embedding with every item's, excluding the given items, top k.",
    }),
    because: buildBecauseGraph(`${metrics.model} because`, normalized, items, emb.dim, BECAUSE_GRAPH),
    rated: encodeRated(users, items, rated.indptr, rated.indices),
    movies: JSON.stringify(movies),
    ids: JSON.stringify(ids),
  };
  const fileInfo = {} as Manifest["files"];
  for (const [key, content] of Object.entries(files) as [keyof typeof files, Uint8Array | string][]) {
    writeFileAtomic(join(dir, BUNDLE_FILES[key]), content);
    fileInfo[key] = info(content);
  }
  // foldin.onnx was written by training, beside the embeddings
  const foldin = metrics.foldin ?? null;
  if (foldin) fileInfo.foldin = info(readFoldInGraph(dir));
  const manifest: Manifest = {
    format: 1,
    version,
    created: new Date().toISOString(),
    dataset: metrics.dataset,
    protocol: metrics.protocol,
    seed: metrics.seed,
    model: metrics.model,
    params: metrics.params,
    metrics: metrics.test,
    users,
    items,
    dim: emb.dim,
    foldin,
    files: fileInfo,
  };
  writeJsonAtomic(join(dir, BUNDLE_FILES.manifest), manifest);
  return manifest;
}
