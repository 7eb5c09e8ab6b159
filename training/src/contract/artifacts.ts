// The artifact contract: every file name, layout and JSON shape under artifacts/, in one
// place, imported by the training pipeline (which writes them) and the Worker (which reads
// them). Paths are relative to the artifacts root.

/** The ranking metrics every metrics file reports, at each cut-off K. */
export const METRIC_NAMES = ["recall", "ndcg", "precision", "hit", "mrr"] as const;
/**
 * Hits divided by min(K, |held-out|): the "recall" of the widely shared tutorial. Only ever
 * computed on request and reported under its own name, never as Recall.
 */
export const CAPPED_RECALL = "recall_capped";
export type MetricName = (typeof METRIC_NAMES)[number] | typeof CAPPED_RECALL;
/** e.g. "recall@10" */
export type MetricKey = `${MetricName}@${number}`;
export type MetricValues = Record<MetricKey, number>;

export const SPLIT_DIR = "split";
export const SPLIT_FILES = {
  train: "train.tsv",
  valid: "valid.tsv",
  test: "test.tsv",
  meta: "split.json",
  keys: "keys.json",
  /** Every movie each split user rated in the dataset, any rating (what rated.bin serves), as TSV of ids. */
  rated: "rated.tsv",
  /**
   * MovieMeta[] of every rated movie a bundle serves: the split's items first (ascending id, the
   * model's own indices), then the rated movies outside the protocol's filters (ascending id).
   */
  catalogue: "catalogue.json",
  /** FallbackFile: how the movies after the split's items are scored (their raters' other movies). */
  fallback: "fallback.json",
  /** PopularFile: the cold-start list. */
  popular: "popular.json",
} as const;

/**
 * How a served movie the model has no vector for (rated, but outside the protocol's filters) is
 * scored: the weighted mean of the model's scores of up to `k` neighbours, the protocol movies
 * its raters liked (train period only), shrunk toward 0 when few raters vouch for it. Row e describes catalogue item `model_items + e`; a row
 * of zero weights has no neighbour, and its movie scores FALLBACK_NONE (last, never above a
 * scored movie).
 */
export interface FallbackFile {
  k: number;
  /** extras x k internal item indices (< model_items), row-major; unused slots are 0 with weight 0. */
  neighbours: number[];
  /** extras x k weights, each row summing to at most 1 (all 0: no neighbour). */
  weights: number[];
}
/** The score of a fallback movie without neighbours. */
export const FALLBACK_NONE = -1e30;

/**
 * popular.json: the cold-start list, the catalogue's most popular movies (positive ratings) in
 * the data's last `window_days` days, then by all-time positives, best first.
 */
export interface PopularFile {
  window_days: number;
  /** ISO dates of the window (null when the data has no timestamps: all time). */
  from: string | null;
  to: string | null;
  movies: { movieId: number; ratings: number }[];
}
/**
 * Header of every split TSV: original MovieLens ids (for a user's own file with ids that are
 * not positive integers, the numbers keys.json maps back: keys.users[id - 1] is user id's key).
 */
export const SPLIT_HEADER = "user_id\tmovie_id";

export const METRICS_FILE = "metrics.json";
/** One JSON object per epoch: epoch, loss, bpr, reg, seconds, valid metrics when computed. */
export const LOG_FILE = "log.jsonl";

export function modelDir(model: string): string {
  return model;
}

export interface Counts {
  users: number;
  items: number;
  interactions: number;
  train: number;
  valid: number;
  test: number;
}

export interface SplitMeta {
  dataset: string;
  protocol: string;
  seed: number;
  counts: Counts;
  created: string;
}

export interface TuningRow {
  params: Record<string, number | string | boolean>;
  valid: MetricValues;
}

/** artifacts/<model>/metrics.json */
export interface MetricsFile {
  model: string;
  dataset: string;
  protocol: string;
  seed: number;
  params: Record<string, number | string | boolean>;
  counts: Counts;
  /** Metrics on valid (absent when the protocol has no valid set). */
  valid: MetricValues | null;
  /** Users the valid metrics average over, when they come from a fixed sample (large datasets). */
  valid_users?: number;
  test: MetricValues;
  fit_seconds: number;
  eval_seconds: number;
  /** The candidates compared on valid to choose `params` (selection by valid NDCG@10). */
  tuning: TuningRow[];
  created: string;
  /** Iterative models only. */
  epochs?: number;
  best_epoch?: number;
  train_seconds?: number;
  stopped?: "converged" | "max-epochs" | "interrupted";
  /** Peak resident memory of the training process when the file was written. */
  peak_rss_mb: number;
  /** What trained a graph model when it was not the CPU backend (e.g. "WebGPU on NVIDIA ..."). */
  trained_on?: string;
  /** The model's fold-in (absent or null: none): in foldin.onnx, or in model.onnx when `recs` takes a history. */
  foldin?: FoldInKind | null;
  /** What the model's model.onnx ranks from, once export writes it (absent or null: no serving graph). */
  recs?: RecsQuery | null;
}

/**
 * What model.onnx ranks a known user from: "user", the trained user vector (input `user`);
 * "history", the user's train history scored by the fold-in (input `history`); "user+history",
 * both (a blend of a trained vector and a history-scored model). A graph that takes a history
 * serves new users too (with user -1 when it also takes a user), and the bundle has no foldin.onnx.
 */
export type RecsQuery = "user" | "history" | "user+history";

/** Whether model.onnx takes the user's index, and whether it takes a history. */
export const recsTakesUser = (r: RecsQuery): boolean => r !== "history";
export const recsTakesHistory = (r: RecsQuery): boolean => r !== "user";

// ---------------------------------------------------------------------------------------
// The serving bundle: written by `npm run export` into artifacts/<model>/, uploaded by
// `npm run publish` to R2 under models/<version>/, read by the Worker.

/** Final embeddings of a trained embedding model (float32 LE, users x dim then items x dim). */
export const EMBEDDINGS_FILE = "embeddings.f32";
/** The fitted model's fold-in tables (see training's export/model-state.ts), which export builds the graphs from. */
export const FOLDIN_STATE_FILE = "foldin.state";

export const BUNDLE_FILES = {
  /** Top-K scoring graph for a known user, from its vector or its history (see RECS_GRAPH, Manifest.recs). */
  model: "model.onnx",
  /** Optional: top-K cosine graph over the row-normalized item embeddings (see SIMILAR_GRAPH). */
  similar: "similar.onnx",
  /** Optional: for each recommended item, the most similar item of a history (see BECAUSE_GRAPH). */
  because: "because.onnx",
  /** Optional: top-K graph over a history instead of a user (see FOLDIN_GRAPH, Manifest.foldin). */
  foldin: "foldin.onnx",
  /**
   * Optional, with `candidates` (compact propagated fold-ins served from histories): the user
   * vector a history folds into (see VECTOR_GRAPH). The Worker then ranks with its own int8
   * kernel over candidates.bin instead of running model.onnx, which stays the portable graph.
   */
  vector: "vector.onnx",
  /** Optional, with `vector`: the int8 item table with a scale per item (see encodeInt8Table). */
  candidates: "candidates.bin",
  /**
   * Optional, with `candidates` when the model has item embeddings: their normalized rows in int8
   * (the table because.onnx holds), from which the Worker's kernel finds the reasons instead.
   */
  normalized: "normalized.bin",
  /** Every movie each user rated in the dataset (any rating), as a RatedCsr binary. */
  rated: "rated.bin",
  /** Optional (Manifest.recs takes a history): each user's train positives, the history model.onnx scores. */
  history: "history.bin",
  /** Optional (Manifest.per_user "r2" or "d1"): each user id's record, read by range (see USER_RECORD). */
  users: "users.bin",
  /** Optional (Manifest.per_user "r2" or "d1"): users who rated each movie, uint32 per internal item (title search ties). */
  popularity: "popularity.bin",
  /** MovieMeta[] in internal item order. */
  movies: "movies.json",
  /** Optional: the cold-start list (PopularFile), for a history with nothing the model can rank from. */
  popular: "popular.json",
  /** IdMaps. */
  ids: "ids.json",
  /** Manifest, written last. */
  manifest: "manifest.json",
} as const;
export type BundleFileKey = keyof typeof BUNDLE_FILES;
export type OptionalBundleFile = "similar" | "because" | "foldin" | "vector" | "candidates" | "normalized" | "history" | "users" | "popularity" | "popular";
export type RequiredBundleFile = Exclude<BundleFileKey, OptionalBundleFile | "manifest">;

/**
 * Inputs and outputs of model.onnx: the user's row and/or history (as Manifest.recs says), k,
 * items to exclude -> best k items. Where a graph takes both, user -1 means a user the model was
 * not trained on: the graph builds that user from the history alone.
 */
export const RECS_GRAPH = {
  inputs: { query: "user", history: "history", k: "k", exclude: "exclude" },
  outputs: { scores: "scores", items: "items" },
  initializers: { queries: "user_embedding", candidates: "item_embedding" },
} as const;

/**
 * Inputs and outputs of vector.onnx: a history of item indices (no duplicates) -> the user's
 * vector [1 x dim], built as model.onnx builds it; scored against candidates.bin.
 */
export const VECTOR_GRAPH = {
  inputs: { history: "history" },
  outputs: { vector: "user_vector" },
} as const;

/** Inputs and outputs of similar.onnx: item row, k, items to exclude -> best k items. */
export const SIMILAR_GRAPH = {
  inputs: { query: "item", k: "k", exclude: "exclude" },
  outputs: { scores: "scores", items: "items" },
  initializers: { candidates: "item_embedding_normalized" },
} as const;

/**
 * Inputs and outputs of foldin.onnx: a history of item indices (no duplicates), k, items to
 * exclude -> best k items. The graph builds the user's vector the model's own way.
 */
export const FOLDIN_GRAPH = {
  inputs: { history: "history", k: "k", exclude: "exclude" },
  outputs: { scores: "scores", items: "items" },
} as const;

/**
 * Inputs and outputs of because.onnx: recommended items and a history (internal indices) ->
 * for each recommended item, the position in the history of the most similar history item
 * (cosine of the item embeddings) and that similarity. The reason shown beside a recommendation.
 */
export const BECAUSE_GRAPH = {
  inputs: { items: "items", history: "history" },
  outputs: { position: "position", similarity: "similarity" },
  initializers: { table: "item_embedding_normalized" },
} as const;

/** How a fold-in graph builds a user from a history (see training's models/foldin.ts). */
export type FoldInKind = "propagated" | "least-squares" | "item-item" | "known-user" | "mix";

export interface MovieMeta {
  movieId: number;
  title: string;
  year: number | null;
  genres: string[];
}

/** Internal index -> MovieLens id, for users and items. */
export interface IdMaps {
  users: number[];
  items: number[];
}

export interface BundleFileInfo {
  bytes: number;
  sha256: string;
  /**
   * MD5 of the bytes: R2 stores the MD5 of every single-part upload beside the object, so the
   * Worker can check a file against this without hashing it (absent in older bundles).
   */
  md5?: string;
}

export interface Manifest {
  format: 1;
  version: string;
  created: string;
  dataset: string;
  protocol: string;
  seed: number;
  model: string;
  params: Record<string, number | string | boolean>;
  /**
   * Test metrics of the exported model (full ranking, the protocol above), computed by running
   * what the Worker runs: this bundle's model.onnx, or vector.onnx with the int8 kernel when the
   * bundle has candidates.bin (older bundles: the trained model in memory).
   */
  metrics: MetricValues;
  /** Valid metrics of model.onnx, the same way (absent in older bundles). */
  valid?: MetricValues | null;
  /** When the graph's metrics average over a fixed sample of users (datasets over 20,000 users): how many. */
  metrics_users?: number;
  /** What model.onnx ranks a known user from (absent in older bundles: "user"). */
  recs?: RecsQuery;
  /**
   * Where the Worker finds per-user data (rated lists, histories, the user id's index): "bundle"
   * (absent: the same), loaded with the model; "r2", read per request by range from users.bin,
   * rated.bin and history.bin, so the isolate's memory does not grow with the users; "d1", the
   * same files loaded by publish into D1's snapshots table, read with the live ratings.
   */
  per_user?: PerUserStore;
  /** With per_user "r2" or "d1": the largest user id, the last record of users.bin. */
  max_user_id?: number;
  users: number;
  /** Movies served: every rated movie of the data (see model_items). */
  items: number;
  /**
   * The first model_items items are the protocol's, which the model was trained on; the rest
   * (rated, but outside the protocol's filters) are scored by the fallback (see FallbackFile):
   * they can be recommended, and a history's entries for them are excluded but never scored
   * from. Absent in older bundles: every item.
   */
  model_items?: number;
  dim: number;
  /** How foldin.onnx builds a user from a history; null (or absent, in older bundles): no fold-in. */
  foldin?: FoldInKind | null;
  files: Record<RequiredBundleFile, BundleFileInfo> & Partial<Record<OptionalBundleFile, BundleFileInfo>>;
}

/** "bundle": in memory with the model; "r2": read by range from the bundle's files; "d1": rows of D1's snapshots table (user-snapshots.ts). */
export type PerUserStore = "bundle" | "r2" | "d1";

/** Whether the bundle's per-user data stays out of the isolate (users.bin maps ids, ids.json lists no users). */
export function perUserOutside(store: PerUserStore | undefined): boolean {
  return store === "r2" || store === "d1";
}

// users.bin: eight bytes (magic "USR1", the largest user id), then one record per user id
// 0..max id, five uint32 each, little-endian: the internal user index (0xFFFFFFFF: no such
// user), then the user's row in rated.bin and in history.bin as [start, end) entry offsets
// (history 0, 0 without history.bin). A user's record is one ranged read at a known offset.
const USERS_MAGIC = 0x31525355; // "USR1"
export const USER_RECORD = { bytes: 20, header: 8, none: 0xffffffff } as const;
/** Ids above this need a users.bin over 320 MB: such ids should be renumbered first. */
export const MAX_DIRECT_USER_ID = 16_000_000;

export interface UserRecord {
  index: number;
  rated: [number, number];
  history: [number, number];
}

export function encodeUserRecords(userIds: ArrayLike<number>, rated: { indptr: ArrayLike<number> }, history: { indptr: ArrayLike<number> } | null): Uint8Array {
  let maxId = 0;
  for (let u = 0; u < userIds.length; u++) maxId = Math.max(maxId, userIds[u]);
  if (maxId > MAX_DIRECT_USER_ID)
    throw new Error(`users.bin addresses users by id: the largest id ${maxId} is over ${MAX_DIRECT_USER_ID}; renumber the users first`);
  const out = new Uint8Array(USER_RECORD.header + (maxId + 1) * USER_RECORD.bytes);
  const view = new DataView(out.buffer);
  view.setUint32(0, USERS_MAGIC, true);
  view.setUint32(4, maxId, true);
  for (let id = 0; id <= maxId; id++) view.setUint32(userRecordOffset(id), USER_RECORD.none, true);
  for (let u = 0; u < userIds.length; u++) {
    const at = userRecordOffset(userIds[u]);
    const values = [u, rated.indptr[u], rated.indptr[u + 1], history ? history.indptr[u] : 0, history ? history.indptr[u + 1] : 0];
    for (const [k, v] of values.entries()) view.setUint32(at + 4 * k, v, true);
  }
  return out;
}

/** Where user id `id`'s record starts in users.bin. */
export function userRecordOffset(id: number): number {
  return USER_RECORD.header + id * USER_RECORD.bytes;
}

/** A record read from users.bin (null: no user with that id). */
export function decodeUserRecord(bytes: ArrayBuffer): UserRecord | null {
  if (bytes.byteLength !== USER_RECORD.bytes) throw new Error(`users.bin: a record is ${USER_RECORD.bytes} bytes, read ${bytes.byteLength}`);
  const v = new DataView(bytes);
  const index = v.getUint32(0, true);
  if (index === USER_RECORD.none) return null;
  return { index, rated: [v.getUint32(4, true), v.getUint32(8, true)], history: [v.getUint32(12, true), v.getUint32(16, true)] };
}

/** Byte range of entries [start, end) of a RatedCsr file with `users` rows over `items` items. */
export function ratedRowRange(users: number, items: number, [start, end]: [number, number]): { offset: number; length: number; indexBytes: 2 | 4 } {
  const indexBytes = items <= 65536 ? 2 : 4;
  return { offset: 20 + 4 * (users + 1) + start * indexBytes, length: (end - start) * indexBytes, indexBytes };
}

/** R2 layout: a version's files under models/<version>/, the pointer written last. */
export const R2_PREFIX = "models/";
export const R2_POINTER = "models/current.json";

export function r2Key(version: string, file: string): string {
  return `${R2_PREFIX}${version}/${file}`;
}

/** A version the pointer named before: what a Worker serves when the current one will not load. */
export interface PreviousVersion {
  version: string;
  manifest: string;
  created?: string;
}

/** How many earlier versions the pointer keeps (their files stay in R2, their D1 rows too). */
export const KEEP_PREVIOUS = 3;

export interface CurrentPointer {
  version: string;
  manifest: string;
  published: string;
  /** The manifest's `created`: publishing compares it so the pointer only moves forward. */
  created?: string;
  /**
   * The versions served before this one, newest first, at most KEEP_PREVIOUS (absent in older
   * pointers): a Worker that cannot load `version` serves the first of them that loads.
   */
  previous?: PreviousVersion[];
  /**
   * A copy of `manifest`'s contents (absent in older pointers), so that a Worker reads the
   * version's files as soon as it has the pointer: one R2 round trip fewer before a fresh
   * isolate's first answer (docs/edge.md#the-cold-first-list-what-it-spends). Written by the same
   * publish, just before the pointer moves; a Worker reads `manifest` when the copy is absent.
   */
  manifest_copy?: Manifest;
}

/** The previous versions a pointer lists, well-formed ones only (a pointer is read from R2, not trusted). */
export function previousVersions(pointer: CurrentPointer): PreviousVersion[] {
  if (!Array.isArray(pointer.previous)) return [];
  return pointer.previous.filter(
    (p): p is PreviousVersion => typeof p?.version === "string" && p.version !== "" && typeof p.manifest === "string" && p.version !== pointer.version,
  );
}

/** What a new pointer to `next` keeps: the pointer it replaces, then that one's previous versions. */
export function nextPrevious(replaced: CurrentPointer | null, next: string): PreviousVersion[] {
  if (!replaced) return [];
  const head: PreviousVersion[] =
    replaced.version && typeof replaced.manifest === "string" && replaced.manifest
      ? [{ version: replaced.version, manifest: replaced.manifest, ...(replaced.created ? { created: replaced.created } : {}) }]
      : [];
  const kept: PreviousVersion[] = [];
  for (const p of [...head, ...previousVersions(replaced)]) {
    if (p.version !== next && !kept.some((k) => k.version === p.version))
      kept.push({ version: p.version, manifest: p.manifest, ...(p.created ? { created: p.created } : {}) });
  }
  return kept.slice(0, KEEP_PREVIOUS);
}

// Rated-movies CSR binary: five uint32 (magic, users, items, nnz, index bytes), then
// uint32 indptr[users + 1], then indices (uint16 when items <= 65536, else uint32), LE.
const RATED_MAGIC = 0x31445452; // "RTD1"

export interface RatedCsr {
  users: number;
  items: number;
  indptr: Uint32Array;
  indices: Uint16Array | Uint32Array;
}

export function encodeRated(users: number, items: number, indptr: ArrayLike<number>, indices: ArrayLike<number>): Uint8Array {
  const nnz = indptr[users];
  const indexBytes = items <= 65536 ? 2 : 4;
  const head = 20 + 4 * (users + 1);
  const out = new Uint8Array(head + nnz * indexBytes);
  const view = new DataView(out.buffer);
  for (const [i, v] of [RATED_MAGIC, users, items, nnz, indexBytes].entries()) view.setUint32(4 * i, v, true);
  for (let u = 0; u <= users; u++) view.setUint32(20 + 4 * u, indptr[u], true);
  for (let p = 0; p < nnz; p++) {
    if (indexBytes === 2) view.setUint16(head + 2 * p, indices[p], true);
    else view.setUint32(head + 4 * p, indices[p], true);
  }
  return out;
}

export function decodeRated(bytes: ArrayBuffer): RatedCsr {
  if (bytes.byteLength < 20) throw new Error("rated.bin: too short for its header");
  const view = new DataView(bytes);
  const [magic, users, items, nnz, indexBytes] = [0, 1, 2, 3, 4].map((i) => view.getUint32(4 * i, true));
  if (magic !== RATED_MAGIC) throw new Error("rated.bin: not a rated-movies file (bad magic)");
  const head = 20 + 4 * (users + 1);
  if ((indexBytes !== 2 && indexBytes !== 4) || bytes.byteLength !== head + nnz * indexBytes) {
    throw new Error(`rated.bin: size ${bytes.byteLength} does not match its header (${users} users, ${nnz} entries)`);
  }
  const indptr = new Uint32Array(bytes, 20, users + 1);
  const indices = indexBytes === 2 ? new Uint16Array(bytes, head, nnz) : new Uint32Array(bytes, head, nnz);
  return { users, items, indptr, indices };
}

// candidates.bin: sixteen bytes (magic "I8T1", rows, dim, 0 as uint32 little-endian), then a
// float32 scale per row, then the rows as int8, row-major: row j ~ values[j * dim ..] * scales[j].
const INT8_TABLE_MAGIC = 0x31543849; // "I8T1"
const INT8_TABLE_HEADER = 16;

export interface Int8Table {
  rows: number;
  dim: number;
  scales: Float32Array;
  values: Int8Array;
}

export function encodeInt8Table(t: Int8Table): Uint8Array {
  if (t.scales.length !== t.rows || t.values.length !== t.rows * t.dim)
    throw new Error(`int8 table: ${t.rows} rows of ${t.dim} need ${t.rows} scales and ${t.rows * t.dim} values`);
  const out = new Uint8Array(INT8_TABLE_HEADER + t.rows * 4 + t.rows * t.dim);
  const view = new DataView(out.buffer);
  view.setUint32(0, INT8_TABLE_MAGIC, true);
  view.setUint32(4, t.rows, true);
  view.setUint32(8, t.dim, true);
  for (let j = 0; j < t.rows; j++) view.setFloat32(INT8_TABLE_HEADER + j * 4, t.scales[j], true);
  out.set(new Uint8Array(t.values.buffer, t.values.byteOffset, t.values.byteLength), INT8_TABLE_HEADER + t.rows * 4);
  return out;
}

/** Reads candidates.bin; throws when the bytes are not such a table. */
export function decodeInt8Table(buffer: ArrayBuffer): Int8Table {
  const view = new DataView(buffer);
  if (buffer.byteLength < INT8_TABLE_HEADER || view.getUint32(0, true) !== INT8_TABLE_MAGIC) throw new Error("not an int8 table (bad magic)");
  const rows = view.getUint32(4, true);
  const dim = view.getUint32(8, true);
  if (buffer.byteLength !== INT8_TABLE_HEADER + rows * 4 + rows * dim) throw new Error(`int8 table of ${rows} x ${dim} has ${buffer.byteLength} bytes`);
  // the scales are copied: the header leaves them 4-byte aligned, but the buffer need not be
  const scales = new Float32Array(rows);
  for (let j = 0; j < rows; j++) scales[j] = view.getFloat32(INT8_TABLE_HEADER + j * 4, true);
  return { rows, dim, scales, values: new Int8Array(buffer, INT8_TABLE_HEADER + rows * 4, rows * dim) };
}
