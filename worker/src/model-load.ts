// Loading one published version from R2: the manifest, every file checked against its size and
// checksum (once per version, never per request), the id maps and rated lists, and what serves it
// (serving.ts): one Ranker, one Explainer, the similar-movies graph. Every check comes before the
// first allocation outside the JS heap, so a refused bundle leaves nothing behind.
// The checksum is R2's own MD5 of the stored bytes when R2 has one (single-part uploads), compared
// with the MD5 export computed, so no CPU is spent hashing; otherwise the file's sha256.
// Takes the ONNX runtime as a parameter so that Node can run this same code to measure a cold
// load (worker/bench/cold-start.ts); the Worker passes the one from ort.ts.
import {
  BUNDLE_FILES,
  type CurrentPointer,
  type IdMaps,
  type Int8Table,
  type Manifest,
  type MovieMeta,
  type OptionalBundleFile,
  type PopularFile,
  type PreviousVersion,
  R2_POINTER,
  type RatedCsr,
  type RecsQuery,
  type RequiredBundleFile,
  decodeInt8Table,
  decodeRated,
  previousVersions,
  r2Key,
  recsTakesHistory,
} from "../../training/src/contract/artifacts.ts";
import { contentProblems, describeProblems } from "../../training/src/contract/validate.ts";
import { ApiError } from "./errors.ts";
import { rememberingRefusals } from "./graph-refusals.ts";
import type { Explainer, Ranker, SimilarMovies } from "./scoring.ts";
import { type SearchIndex, buildSearchIndex } from "./search.ts";
import { type Ort, type ServingPlan, type SessionSet, buildServing } from "./serving.ts";
import { type RangeBucket, type SnapshotDb, type UserStore, d1Users, memoryUsers, r2Users } from "./user-store.ts";

export type { Ort } from "./serving.ts";

/** The R2 reads a load makes: the Workers binding has them, and so has an in-memory stand-in in Node. */
export interface ModelBucket extends RangeBucket {
  get(
    key: string,
    options?: { range: { offset: number; length: number } },
  ): Promise<{ arrayBuffer(): Promise<ArrayBuffer>; json<T>(): Promise<T>; checksums?: { md5?: ArrayBuffer } } | null>;
  /** Size and checksums without the bytes (per-user files left in R2 are checked this way). */
  head(key: string): Promise<{ size: number; checksums?: { md5?: ArrayBuffer } } | null>;
  /** The bucket's keys (R2 lists 1,000 a page): how a Worker finds versions when the pointer is unreadable. */
  list?(options: { prefix: string; cursor?: string }): Promise<{ objects: { key: string; uploaded: Date }[]; truncated: boolean; cursor?: string }>;
}

/**
 * Called after each phase of a load with its wall time: the manifest's read, the files' (fetch),
 * their checks, parsing, the wait for ORT's start when it was begun elsewhere (ort), then each
 * session built at load by its graph's name ("model", "because"; "foldin-check" for a graph
 * checked now and built on first use), then "sessions", all of them together.
 */
export type PhaseTimer = (phase: string, ms: number) => void;

export interface LoadedModel {
  version: string;
  manifest: Manifest;
  /** What model.onnx is given for a known user: the user's row, or the user's history. */
  recsFrom: RecsQuery;
  /** Ranks a known user or a history: model.onnx (and its fold-in), or vector.onnx with the int8 kernel. */
  ranker: Ranker;
  /** The `because` of each recommendation: the int8 kernel over normalized.bin, because.onnx, or none. */
  explainer: Explainer;
  /** The similar-movies graph, when the bundle has item embeddings. */
  similar: SimilarMovies | null;
  /** Every ONNX session the model holds, each once, those built on first use too: disposeModel releases them. */
  sessions: SessionSet;
  /** Known users: index, rated movies and (for history graphs) train history, in memory or in R2. */
  users: UserStore;
  /** The title search index, built on the first search (not during the load: most loads never search). */
  search(): SearchIndex;
  movies: MovieMeta[];
  itemIndex: Map<number, number>;
  /**
   * Items 0..modelItems - 1 are the model's own; the catalogue's later movies are scored by the
   * bundle's fallback and never enter a history the graphs score (manifest.model_items).
   */
  modelItems: number;
  /** The cold-start list, best first (internal indices): popular.json, or the most rated movies in older bundles. */
  popular: number[];
  loadedAt: string;
}

/** Files with a row per user: left in R2 when the manifest says per_user "r2" (or "d1"). */
const PER_USER_FILES: readonly string[] = ["rated", "history", "users"];

/** Users who rated each movie (the title search's tie-break). */
function itemPopularity(rated: RatedCsr, items: number): Uint32Array {
  const popularity = new Uint32Array(items);
  for (let p = 0; p < rated.indices.length; p++) popularity[rated.indices[p]]++;
  return popularity;
}

export const PUBLISH_HINT = "run `npm run publish -- --local` (or `-- --remote`) to publish a trained model";

async function readStored(bucket: ModelBucket, key: string): Promise<{ data: ArrayBuffer; md5: string | null }> {
  const obj = await bucket.get(key);
  if (!obj) throw new ApiError(503, "model_unavailable", `published model is incomplete: ${key} is missing; ${PUBLISH_HINT}`);
  const md5 = obj.checksums?.md5;
  return { data: await obj.arrayBuffer(), md5: md5 ? hex(md5) : null };
}

function hex(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256(bytes: ArrayBuffer): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", bytes));
}

/** The pointer's copy of its manifest, when it has one of this version (anything else: read the manifest). */
function manifestCopy(pointer: CurrentPointer): Manifest | null {
  const copy = pointer.manifest_copy;
  // a copy of another version's manifest (a pointer edited by hand) is no copy: manifest.json is read
  const usable = copy && typeof copy === "object" && !Array.isArray(copy) && typeof copy.files === "object" && copy.files !== null;
  return usable && copy.version === pointer.version ? copy : null;
}

export async function readPointer(bucket: ModelBucket): Promise<CurrentPointer> {
  const obj = await bucket.get(R2_POINTER);
  if (!obj) throw new ApiError(503, "no_model", `no model is published yet; ${PUBLISH_HINT}`);
  try {
    const p = (await obj.json()) as CurrentPointer;
    if (typeof p.version !== "string" || typeof p.manifest !== "string") throw new Error("fields missing");
    return { ...p, previous: previousVersions(p) };
  } catch {
    throw new ApiError(503, "model_unavailable", `${R2_POINTER} is not a valid pointer; ${PUBLISH_HINT}`);
  }
}

/** Pages of keys read at most when looking for versions without a pointer (20,000 keys). */
const LIST_PAGES = 20;

/**
 * The versions whose manifests are in the bucket, newest upload first, at most `limit`: what a
 * Worker may fall back to when models/current.json itself is unreadable (a torn or hand-edited
 * pointer), since the pointer's own list of previous versions is then lost with it.
 */
export async function listedVersions(bucket: ModelBucket, limit: number): Promise<PreviousVersion[]> {
  if (!bucket.list) return [];
  const manifests: { version: string; manifest: string; uploaded: number }[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < LIST_PAGES; page++) {
    const listed = await bucket.list({ prefix: "models/", cursor });
    for (const o of listed.objects) {
      const version = o.key.slice("models/".length, -`/${BUNDLE_FILES.manifest}`.length);
      if (o.key === r2Key(version, BUNDLE_FILES.manifest) && !version.includes("/"))
        manifests.push({ version, manifest: o.key, uploaded: o.uploaded.getTime() });
    }
    if (!listed.truncated) break;
    cursor = listed.cursor;
  }
  return manifests
    .sort((a, b) => b.uploaded - a.uploaded)
    .slice(0, limit)
    .map(({ version, manifest }) => ({ version, manifest }));
}

/**
 * The title search index, built on its first use. Made here, not inline in loadModel: a closure
 * keeps its whole enclosing scope alive in V8, and loadModel's holds every file's bytes (a 37 MB
 * ArrayBuffer retention at ML-32M size, measured through the inspector).
 */
function searchIndexOnDemand(movies: MovieMeta[], popularity: Uint32Array): () => ReturnType<typeof buildSearchIndex> {
  return lazily(() => buildSearchIndex(movies, popularity));
}

function lazily<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= make();
    return value;
  };
}

/** How many movies the cold-start list keeps. */
const COLD_START_MOVIES = 200;

/** popular.json's movies the catalogue serves, or (older bundles) the movies the most users rated. */
function coldStartList(popular: PopularFile | null, itemIndex: Map<number, number>, rated: Uint32Array): number[] {
  if (popular) return popular.movies.flatMap((m) => itemIndex.get(m.movieId) ?? []);
  return Array.from(rated.keys())
    .sort((a, b) => rated[b] - rated[a] || a - b)
    .slice(0, COLD_START_MOVIES);
}

/** ORT sessions hold wasm memory outside the JS heap: a model no longer served is released explicitly. */
export function disposeModel(model: LoadedModel): Promise<void> {
  return model.sessions.release();
}

/**
 * One ranking and one explanation on a loaded model, the answers thrown away: an isolate's first
 * run of a graph costs several times a later one (ORT's and the kernel's code paths run for the
 * first time), and the model store runs this while the first request waits for its user's state
 * (docs/edge.md, "The cold first list"). Never rejects.
 */
export async function warmUp(model: LoadedModel): Promise<void> {
  await model.ranker.rankUser({ index: 0, rated: [], history: [0] }, WARM_UP_K, []).catch(() => {});
  await model.explainer.explain([0], [0]).catch(() => {});
}

/** The warm-up's list length: a first list's (recommendations.ts ranks k, or more with diversity). */
const WARM_UP_K = 20;

export interface LoadOptions {
  /** Times each phase of the load (PhaseTimer). */
  phase?: PhaseTimer;
  /**
   * ORT's start (ort-start.ts), CPU work: begun once the files' reads are issued, so that it runs
   * while they are waited for, and awaited (timed as "ort") before the first session.
   */
  runtime?: () => Promise<void>;
  /** Runs after every check has passed, before the sessions are built. */
  beforeSessions?: () => Promise<void>;
  /** The D1 database holding the snapshots of a per_user "d1" bundle. */
  db?: SnapshotDb;
  /** The compiled ranking kernel (worker/build/rank-int8.wasm), for bundles with candidates.bin. */
  kernel?: WebAssembly.Module;
}

/**
 * Loads a published version: fetches and verifies its files, parses them and checks that they
 * agree, then builds what serves it (ONNX sessions, kernel instances). `beforeSessions` runs
 * between the two (the store releases the replaced model there when swaps must not hold two
 * versions' sessions at once). A load that throws has built nothing that outlives it.
 */
export async function loadVersion(bucket: ModelBucket, pointer: CurrentPointer, ort: Ort, opts: LoadOptions = {}): Promise<LoadedModel> {
  let t = performance.now();
  const lap = (name: string): void => {
    const now = performance.now();
    opts.phase?.(name, now - t);
    t = now;
  };
  // the pointer's copy of the manifest saves a round trip; older pointers name it only
  const copy = manifestCopy(pointer);
  const manifestRead = copy ? null : readStored(bucket, pointer.manifest);
  let runtime: Promise<void> | undefined;
  // ORT's start runs while reads are waited for: the manifest's and the files', or the files' alone
  const startRuntime = (): void => {
    runtime = opts.runtime?.();
    // a load that fails before its sessions leaves ORT's start to finish alone: its failure is reported by no one
    runtime?.catch(() => {});
  };
  if (manifestRead) startRuntime();
  const manifest = copy ?? (JSON.parse(new TextDecoder().decode((await manifestRead!).data)) as Manifest);
  if (manifest.format !== 1 || manifest.version !== pointer.version) {
    throw new ApiError(503, "model_unavailable", `manifest of ${pointer.version} is not readable (format or version mismatch); ${PUBLISH_HINT}`);
  }
  if (manifest.per_user === "d1" && !opts.db)
    throw new ApiError(503, "model_unavailable", `${manifest.version} keeps its per-user data in D1, and the Worker has no D1 binding (DB)`);
  if (kernelParts(manifest).byKernel && !opts.kernel)
    throw new Error(`${manifest.version} is ranked by the int8 kernel, and the load was given no compiled kernel`);
  lap("manifest");
  const bytes = await verifiedFiles(bucket, manifest, lap, runtime ? undefined : startRuntime);
  // everything that can refuse the bundle is checked before anything is allocated
  const recsFrom = manifest.recs ?? "user";
  const history = recsTakesHistory(recsFrom);
  if (history && !manifest.files.history) {
    throw new ApiError(503, "model_unavailable", `${manifest.version} ranks users from their history but has no ${BUNDLE_FILES.history}; ${PUBLISH_HINT}`);
  }
  const need = (k: BundleFile): ArrayBuffer => required(manifest, bytes, k);
  const ids = parsedJson(manifest, need, "ids") as IdMaps;
  const movies = parsedJson(manifest, need, "movies") as MovieMeta[];
  // checksums say the files are the ones published; this says they can be served (publish checked
  // it too, but a bundle may have been written by hand or by an older publish)
  const problems = contentProblems(manifest, bytes, { movies, ids });
  if (problems.length > 0) throw new ApiError(503, "model_unavailable", `${describeProblems(manifest.version, problems)}; ${PUBLISH_HINT}`);
  const plan = servingPlan(manifest, bytes, history);
  let users: UserStore;
  let popularity: Uint32Array;
  if (manifest.per_user === "r2" || manifest.per_user === "d1") {
    users = manifest.per_user === "d1" ? d1Users(opts.db!, manifest, history) : r2Users(bucket, manifest, history);
    popularity = new Uint32Array(need("popularity"));
  } else {
    const rated = decodeRated(need("rated"));
    users = memoryUsers(ids.users, rated, history ? decodeRated(need("history")) : null);
    popularity = itemPopularity(rated, manifest.items);
  }
  const itemIndex = new Map(ids.items.map((id, i) => [id, i]));
  const popular = coldStartList(bytes.popular ? (JSON.parse(new TextDecoder().decode(bytes.popular)) as PopularFile) : null, itemIndex, popularity);
  lap("parse");
  await opts.beforeSessions?.();
  if (runtime) {
    await runtime;
    lap("ort");
  }
  // ORT keeps wasm memory for each graph it refuses: it sees a skeleton first, never refused bytes again (graph-refusals.ts)
  const { ranker, explainer, similar, sessions } = await buildServing(plan, rememberingRefusals(ort), opts.kernel, opts.phase);
  lap("sessions");
  return {
    version: manifest.version,
    manifest,
    recsFrom,
    ranker,
    explainer,
    similar,
    sessions,
    users,
    search: searchIndexOnDemand(movies, popularity),
    movies,
    itemIndex,
    modelItems: manifest.model_items ?? manifest.items,
    popular,
    loadedAt: new Date().toISOString(),
  };
}

/**
 * The bytes of every file the Worker reads at load, each checked against the manifest's size and
 * checksum. Per-user files stay in R2 (checked by size and R2's MD5 now, read by range per
 * request) or, with the data in D1, are not read at all (publish loaded D1 from them before the
 * pointer moved); with the kernel's files model.onnx is the portable graph, not what this Worker
 * runs, and with normalized.bin because.onnx is not needed either.
 */
async function verifiedFiles(
  bucket: ModelBucket,
  manifest: Manifest,
  lap: (phase: "fetch" | "verify") => void,
  /** Runs once every read is issued (ORT's start, to run while they are waited for). */
  issued?: () => void,
): Promise<BundleBytes> {
  const { byKernel, reasonsByKernel } = kernelParts(manifest);
  const all = (Object.keys(manifest.files) as (keyof Manifest["files"])[]).filter((k) => !(byKernel && k === "model") && !(reasonsByKernel && k === "because"));
  const left = all.filter((k) => manifest.per_user === "r2" && PER_USER_FILES.includes(k));
  const keys = all.filter((k) => !left.includes(k) && !(manifest.per_user === "d1" && PER_USER_FILES.includes(k)));
  const reads = Promise.all(keys.map(async (k) => [k, await readStored(bucket, r2Key(manifest.version, BUNDLE_FILES[k]))] as const));
  issued?.();
  const stored = await reads;
  lap("fetch");
  const mismatch = (k: keyof Manifest["files"]): ApiError =>
    new ApiError(503, "model_unavailable", `${BUNDLE_FILES[k]} of ${manifest.version} does not match its manifest (size or checksum); ${PUBLISH_HINT}`);
  for (const [k, { data, md5 }] of stored) {
    const expected = manifest.files[k]!;
    const matches = expected.md5 && md5 ? md5 === expected.md5 : (await sha256(data)) === expected.sha256;
    if (data.byteLength !== expected.bytes || !matches) throw mismatch(k);
  }
  const heads = await Promise.all(left.map(async (k) => [k, await bucket.head(r2Key(manifest.version, BUNDLE_FILES[k]))] as const));
  for (const [k, head] of heads) {
    if (!head)
      throw new ApiError(503, "model_unavailable", `published model is incomplete: ${BUNDLE_FILES[k]} of ${manifest.version} is missing; ${PUBLISH_HINT}`);
    const md5 = head.checksums?.md5;
    const expected = manifest.files[k]!;
    // without R2's MD5 (a multipart upload) only the size can be checked without reading the file
    if (head.size !== expected.bytes || (md5 && expected.md5 && hex(md5) !== expected.md5)) throw mismatch(k);
  }
  lap("verify");
  return Object.fromEntries(stored.map(([k, { data }]) => [k, data])) as BundleBytes;
}

type BundleFile = RequiredBundleFile | OptionalBundleFile;

function parsedJson(manifest: Manifest, need: (k: BundleFile) => ArrayBuffer, k: "ids" | "movies"): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(need(k)));
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError(503, "model_unavailable", `${BUNDLE_FILES[k]} of ${manifest.version} is not valid JSON; ${PUBLISH_HINT}`);
  }
}
type BundleBytes = Partial<Record<BundleFile, ArrayBuffer>>;

function required(manifest: Manifest, bytes: BundleBytes, k: BundleFile): ArrayBuffer {
  const b = bytes[k];
  if (!b) throw new ApiError(503, "model_unavailable", `${manifest.version} has no ${BUNDLE_FILES[k]}; ${PUBLISH_HINT}`);
  return b;
}

/**
 * What the verified bundle serves with: the int8 kernel over candidates.bin when it has
 * vector.onnx too (model.onnx is then not even fetched), else model.onnx; the kernel's reasons
 * over normalized.bin, else because.onnx. Throws, allocating nothing, when the files disagree.
 */
function servingPlan(manifest: Manifest, bytes: BundleBytes, history: boolean): ServingPlan {
  const v = manifest.version;
  const need = (k: BundleFile): ArrayBuffer => required(manifest, bytes, k);
  const table = (file: "candidates" | "normalized"): Int8Table => {
    const name = BUNDLE_FILES[file];
    let t: Int8Table;
    try {
      t = decodeInt8Table(need(file));
    } catch (e) {
      if (e instanceof ApiError) throw e;
      throw new ApiError(503, "model_unavailable", `${name} of ${v} is not readable: ${(e as Error).message}; ${PUBLISH_HINT}`);
    }
    if (t.rows !== manifest.items || t.dim === 0)
      throw new ApiError(503, "model_unavailable", `${name} of ${v} has ${t.rows} rows of ${t.dim} for ${manifest.items} items; ${PUBLISH_HINT}`);
    return t;
  };
  const { byKernel, reasonsByKernel } = kernelParts(manifest);
  if (byKernel && !history)
    throw new ApiError(
      503,
      "model_unavailable",
      `${v} has the int8 kernel's files, which rank histories, but ranks users by "${manifest.recs ?? "user"}"; ${PUBLISH_HINT}`,
    );
  return {
    items: manifest.items,
    ranker: byKernel
      ? { kind: "int8-kernel", vector: need("vector"), candidates: table("candidates") }
      : {
          kind: "onnx",
          model: need("model"),
          history,
          // a graph that ranks known users from their history ranks any history
          foldin: !manifest.foldin ? null : (bytes.foldin ?? (history ? "model" : null)),
        },
    explainer: reasonsByKernel ? { kind: "int8-kernel", normalized: table("normalized") } : bytes.because ? { kind: "onnx", because: bytes.because } : null,
    similar: bytes.similar ?? null,
  };
}

/** With vector.onnx and candidates.bin the int8 kernel ranks; with normalized.bin too it finds the reasons. */
function kernelParts(manifest: Manifest): { byKernel: boolean; reasonsByKernel: boolean } {
  const byKernel = Boolean(manifest.files.vector && manifest.files.candidates);
  return { byKernel, reasonsByKernel: byKernel && Boolean(manifest.files.normalized) };
}
