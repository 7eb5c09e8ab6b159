// The one export step: writes every file of a trained model's serving bundle into
// artifacts/<model>/ (the ONNX graphs, the int8 tables, the per-user data, movie metadata, id
// maps and, last, the manifest with every file's size and checksums and the metrics of what
// the Worker runs) from the model's trained state, the split and its catalogue. It never reads
// the raw data, and nothing it writes was written by training.
import { createHash, randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  BECAUSE_GRAPH,
  BUNDLE_FILES,
  type BundleFileInfo,
  type BundleFileKey,
  FOLDIN_GRAPH,
  type FallbackFile,
  type IdMaps,
  type Manifest,
  METRICS_FILE,
  type MetricsFile,
  type PerUserStore,
  RECS_GRAPH,
  SIMILAR_GRAPH,
  VECTOR_GRAPH,
  decodeInt8Table,
  encodeInt8Table,
  encodeRated,
  encodeUserRecords,
  modelDir,
  perUserOutside,
  recsTakesHistory,
} from "../contract/artifacts.ts";
import { type FoldIn, quantizeRows } from "../models/foldin.ts";
import { extendRows, fallbackRows } from "./fallback.ts";
import type { Catalogue } from "./catalogue.ts";
import type { Split } from "../protocol/protocols.ts";
import { writeFileAtomic, writeJsonAtomic } from "../util/fs-atomic.ts";
import { evaluateGraph, evaluateVectorKernel } from "./evaluate-graph.ts";
import { type TrainedState, readTrainedState, servingShape } from "./model-state.ts";
import { buildBecauseGraph, buildCompactBecauseGraph, buildCompactSimilarGraph, buildFoldInGraph, buildTopKGraph, buildVectorGraph } from "./onnx-graph.ts";

export { type Embeddings, readEmbeddings, writeEmbeddings } from "./model-state.ts";

/** The models whose training leaves a serving state (an embedding or a fold-in served from histories). */
const EXPORTABLE = "lightgcn, mf, ngcf, ials, ease, blend";

/** What a bundle is built from besides the model: the split it was trained on and its catalogue. */
export interface ExportSource {
  split: Split;
  catalogue: Catalogue;
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

type BundleContent = Partial<Record<Exclude<BundleFileKey, "manifest">, Uint8Array | string>>;
type ServingGraphs = { model: Uint8Array } & Partial<Record<"foldin" | "vector" | "candidates", Uint8Array>>;

/**
 * Writes the bundle of a trained model from its state (in memory, or as training saved it: see
 * exportSaved), the split and its catalogue, and evaluates what the Worker will run: the
 * manifest's metrics are those of the served graph.
 */
export async function exportBundle(
  metrics: MetricsFile,
  state: TrainedState,
  source: ExportSource,
  artifactsDir: string,
  opts: ExportOptions = {},
): Promise<Manifest> {
  const { split, catalogue } = source;
  const dir = join(artifactsDir, modelDir(metrics.model));
  const users = split.userIds.length;
  // every rated movie is served: the model's own items first, then those the fallback scores
  const modelItems = split.itemIds.length;
  const items = catalogue.movies.length;
  const fallback = catalogue.fallback;
  const { recs, foldin } = servingShape(state);
  if (!recs) throw new Error(`${metrics.model} has no serving graph: only models with embeddings or a fold-in can be exported (${EXPORTABLE})`);
  const emb = state.embeddings;
  const perUser = opts.perUser ?? (users > PER_USER_OUTSIDE_ABOVE ? "d1" : "bundle");
  const outside = perUserOutside(perUser);
  // with per-user data out of the isolate, users.bin maps ids to indices: ids.json keeps the items only
  const ids: IdMaps = { users: outside ? [] : Array.from(split.userIds), items: catalogue.movies.map((m) => m.movieId) };
  const rated = catalogue.rated;

  const graphs = servingGraphs(metrics.model, state, fallback);
  const recsGraph = graphs.model;
  const files: BundleContent = {
    model: recsGraph,
    rated: encodeRated(users, items, rated.indptr, rated.indices),
    movies: JSON.stringify(catalogue.movies),
    ids: JSON.stringify(ids),
    popular: JSON.stringify(catalogue.popular),
  };
  // a history-ranked graph scores each known user's train positives: the history it was evaluated on
  if (recsTakesHistory(recs)) files.history = encodeRated(users, items, split.train.indptr, split.train.indices);
  else if (graphs.foldin) files.foldin = graphs.foldin;
  // the Worker's own int8 ranking (see kernelFiles): both files, or neither
  const kernel = graphs.vector && graphs.candidates ? { vector: graphs.vector, candidates: graphs.candidates } : null;
  if (kernel) Object.assign(files, kernel);
  if (outside) {
    files.users = encodeUserRecords(split.userIds, rated, recsTakesHistory(recs) ? split.train : null);
    const popularity = new Uint32Array(items);
    for (const i of rated.indices) popularity[i]++;
    files.popularity = new Uint8Array(popularity.buffer);
  }
  // the similar-movies and reason tables cover every served movie: the fallback movies' rows are
  // their neighbours' weighted mean (see fallback.ts), then normalized like the others
  const itemRows = emb ? extendRows(emb.items, modelItems, emb.dim, fallback) : null;
  if (emb && itemRows && metrics.params.item_precision === "compact") {
    // int8 normalized embeddings with a scale per item, as the compact fold-in scores
    const q = quantizeRows(normalizedRows(itemRows, emb.dim), items, emb.dim);
    files.similar = buildCompactSimilarGraph(`${metrics.model} similar items`, q, items, emb.dim, SIMILAR_GRAPH);
    files.because = buildCompactBecauseGraph(`${metrics.model} because`, q, items, emb.dim, BECAUSE_GRAPH);
    // the same table for the Worker's kernel, which finds the reasons without because.onnx
    if (kernel) files.normalized = encodeInt8Table({ rows: items, dim: emb.dim, ...q });
  } else if (emb && itemRows) {
    const normalized = normalizedRows(itemRows, emb.dim);
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
  // over the protocol's items only: the fallback movies are left out, so the metrics are the protocol's
  const served = kernel
    ? await evaluateVectorKernel(kernel.vector, decodeInt8Table(arrayBufferOf(kernel.candidates)), split, { servedItems: items })
    : await evaluateGraph(recsGraph, recs, split, { servedItems: items });
  const over = served.sampleUsers ? `a fixed sample of ${served.sampleUsers.toLocaleString("en-US")} test users, one graph run each` : "every test user";
  opts.log?.(
    `${metrics.model}: ${servedBy} test NDCG@10 ${served.test["ndcg@10"].toFixed(4)}, Recall@10 ${served.test["recall@10"].toFixed(4)} over ${over} (${served.seconds.toFixed(1)} s)`,
  );

  // the manifest goes first and comes back last: a reader never pairs it with half the new files
  rmSync(join(dir, BUNDLE_FILES.manifest), { force: true });
  const fileInfo = {} as Manifest["files"];
  for (const [key, content] of Object.entries(files) as [Exclude<BundleFileKey, "manifest">, Uint8Array | string][]) {
    writeFileAtomic(join(dir, BUNDLE_FILES[key]), content);
    fileInfo[key] = info(content);
  }
  for (const key of Object.keys(BUNDLE_FILES) as BundleFileKey[]) if (key !== "manifest" && !files[key]) rmSync(join(dir, BUNDLE_FILES[key]), { force: true });
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
    model_items: modelItems,
    dim: emb?.dim ?? 0,
    foldin,
    files: fileInfo,
  };
  writeJsonAtomic(join(dir, BUNDLE_FILES.manifest), manifest);
  return manifest;
}

/**
 * Re-exports a model from what training saved in artifacts/<model>/ (metrics.json, its state)
 * and the split with its catalogue (in memory, or read from artifacts/split/ by the caller).
 */
export async function exportSaved(model: string, source: ExportSource, artifactsDir: string, opts: ExportOptions = {}): Promise<Manifest> {
  const dir = join(artifactsDir, modelDir(model));
  const metricsPath = join(dir, METRICS_FILE);
  let metrics: MetricsFile;
  try {
    metrics = JSON.parse(readFileSync(metricsPath, "utf8")) as MetricsFile;
  } catch {
    throw new Error(`${metricsPath} is missing or unreadable: run \`npm run train -- --model ${model}\` first`);
  }
  const { split } = source;
  const trainedOn = `${metrics.dataset}, protocol ${metrics.protocol}, seed ${metrics.seed}`;
  const splitIs = `${split.dataset}, protocol ${split.protocol}, seed ${split.seed}`;
  if (trainedOn !== splitIs || JSON.stringify(metrics.counts) !== JSON.stringify(split.counts))
    throw new Error(
      `${model} was trained on ${trainedOn}, but the split in ${artifactsDir} is ${splitIs}: train ${model} again on this split, or export from the artifacts folder it was trained in`,
    );
  if (!metrics.recs) throw new Error(`${model} has no serving graph: only models with embeddings or a fold-in can be exported (${EXPORTABLE})`);
  const state = readTrainedState(dir, { users: split.counts.users, items: split.counts.items, recs: metrics.recs, foldin: metrics.foldin ?? null }, model);
  return exportBundle(metrics, state, source, artifactsDir, opts);
}

/** The recommendation graphs of a trained state: model.onnx, and foldin.onnx or vector.onnx with candidates.bin. */
function servingGraphs(name: string, state: TrainedState, fallback: FallbackFile): ServingGraphs {
  const { foldIn, embeddings: emb } = state;
  if (state.serving === "history") {
    if (!foldIn) throw new Error(`${name} is served from histories but has no fold-in`);
    return { model: buildFoldInGraph(`${name} recommendations`, foldIn, RECS_BY_HISTORY, fallback), ...kernelFiles(name, foldIn, fallback) };
  }
  if (!emb) throw new Error(`${name} has no embeddings to serve a known user from`);
  return {
    model: buildTopKGraph({
      name: `${name} recommendations`,
      queries: { name: RECS_GRAPH.initializers.queries, data: emb.users, rows: emb.users.length / emb.dim },
      candidates: { name: RECS_GRAPH.initializers.candidates, data: emb.items, rows: emb.items.length / emb.dim },
      dim: emb.dim,
      inputs: { query: RECS_GRAPH.inputs.query, k: RECS_GRAPH.inputs.k, exclude: RECS_GRAPH.inputs.exclude },
      outputs: RECS_GRAPH.outputs,
      docString: "Scores every item by dot product with the user's final embedding, excludes the given items, returns the top k.",
      fallback,
    }),
    ...(foldIn ? { foldin: buildFoldInGraph(`${name} fold-in`, foldIn, FOLDIN_GRAPH, fallback) } : {}),
  };
}

/** The recs graph's names when it takes a history (and the user, when the fold-in reads it). */
const RECS_BY_HISTORY = {
  inputs: { user: RECS_GRAPH.inputs.query, history: RECS_GRAPH.inputs.history, k: RECS_GRAPH.inputs.k, exclude: RECS_GRAPH.inputs.exclude },
  outputs: RECS_GRAPH.outputs,
};

/**
 * With int8 candidates (a compact propagated fold-in served from histories), the Worker ranks
 * with its own wasm kernel, which ranks the int8 table 5x faster than onnxruntime-web's int8
 * MatMul: vector.onnx builds the user vector, candidates.bin holds the table it is scored
 * against. Any other model: neither file.
 */
function kernelFiles(name: string, foldIn: FoldIn, fallback: FallbackFile): Pick<ServingGraphs, "vector" | "candidates"> {
  if (foldIn.kind !== "propagated" || !foldIn.compact) return {};
  // the fallback movies' rows: their neighbours' weighted mean (a dot product with the mean is the
  // mean of the scores), quantized alone so that the model's rows stay byte for byte
  const { items: n, dim } = foldIn;
  const extra = fallbackRows(fallback);
  const q = quantizeRows(extendRows(foldIn.candidates, n, dim, fallback).subarray(n * dim), extra, dim);
  const values = new Int8Array((n + extra) * dim);
  values.set(foldIn.compact.values);
  values.set(q.values, n * dim);
  const scales = new Float32Array(n + extra);
  scales.set(foldIn.compact.scales);
  scales.set(q.scales, n);
  return {
    vector: buildVectorGraph(`${name} user vector`, foldIn, VECTOR_GRAPH),
    candidates: encodeInt8Table({ rows: n + extra, dim, values, scales }),
  };
}
