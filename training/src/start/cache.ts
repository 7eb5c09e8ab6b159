// Whether a model trained by an earlier npm start can be served again instead of trained again.
// The key covers everything that changes what training produces: the dataset files' bytes, the
// training code (every source file that training reads, the kernels' sources included) and the
// options. It is stored beside the model's artifacts with the version of the bundle it was
// written for, so a bundle replaced since (by `npm run train`, say) is never taken for it.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { BUNDLE_FILES, METRICS_FILE, type Manifest, type MetricsFile, modelDir } from "../contract/artifacts.ts";
import { writeJsonAtomic } from "../util/fs-atomic.ts";

export const CACHE_FILE = "start-cache.json";

/** training/src, whose files make the source part of the key. */
const SOURCE_ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * Folders of training/src (and CLI files) that play no part in what training writes: serving,
 * publishing and deploying. Changing them must not throw away trained models.
 */
const NOT_TRAINING = ["start", "deploy", "publish", "serve", "report", "study"];
const TRAINING_CLIS = ["train.ts", "options.ts"];

function trainingSource(rel: string): boolean {
  const [top, file] = rel.split(sep);
  if (NOT_TRAINING.includes(top)) return false;
  if (top === "cli") return TRAINING_CLIS.includes(file);
  return true;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** sha256 over the training source files (names and bytes), in a fixed order. */
export function sourceDigest(root = SOURCE_ROOT): string {
  const hash = createHash("sha256");
  const files = listFiles(root)
    .map((p) => relative(root, p))
    .filter(trainingSource)
    .sort();
  for (const rel of files) hash.update(`${rel.split(sep).join("/")}\0`).update(readFileSync(join(root, rel)));
  return hash.digest("hex");
}

/** sha256 over the given data files (names and bytes): a changed rating changes it. */
export function dataDigest(files: string[]): string {
  const hash = createHash("sha256");
  for (const file of [...files].sort()) hash.update(`${file}\0`).update(readFileSync(file));
  return hash.digest("hex");
}

export interface CacheInputs {
  data: string;
  source: string;
  /** The options that change what is trained (dataset, protocol, seed, ...). */
  options: Record<string, string | number | boolean>;
}

/** One model's key: the same inputs give the same key, any change a different one. */
export function cacheKey(model: string, inputs: CacheInputs): string {
  const options = Object.fromEntries(Object.entries(inputs.options).sort(([a], [b]) => a.localeCompare(b)));
  return createHash("sha256")
    .update(JSON.stringify({ model, data: inputs.data, source: inputs.source, options }))
    .digest("hex");
}

interface CacheRecord {
  key: string;
  /** The bundle the key was written for. */
  version: string;
  written: string;
  inputs: CacheInputs;
}

function readJson<T>(path: string): T | null {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    return null;
  }
}

/** The exported bundle's version in artifacts/<model>/, or null when there is none. */
function bundleVersion(dir: string): string | null {
  return readJson<Manifest>(join(dir, BUNDLE_FILES.manifest))?.version ?? null;
}

/**
 * True when artifacts/<model>/ holds a complete, uninterrupted export that an earlier start
 * trained with this very key.
 */
export function isReusable(artifacts: string, model: string, key: string): boolean {
  const dir = join(artifacts, modelDir(model));
  const record = readJson<CacheRecord>(join(dir, CACHE_FILE));
  if (!record || record.key !== key) return false;
  const metrics = readJson<MetricsFile>(join(dir, METRICS_FILE));
  if (!metrics || metrics.stopped === "interrupted") return false;
  return existsSync(join(dir, BUNDLE_FILES.manifest)) && bundleVersion(dir) === record.version;
}

/** Records that artifacts/<model>/ was trained with this key (after a complete training run). */
export function recordTrained(artifacts: string, model: string, key: string, inputs: CacheInputs): void {
  const dir = join(artifacts, modelDir(model));
  const version = bundleVersion(dir);
  if (!version) throw new Error(`${dir} holds no exported bundle (${BUNDLE_FILES.manifest}) to record`);
  const record: CacheRecord = { key, version, written: new Date().toISOString(), inputs };
  writeJsonAtomic(join(dir, CACHE_FILE), record);
}

/** True when the training of artifacts/<model>/ was interrupted (Ctrl-C): it is not served. */
export function wasInterrupted(artifacts: string, model: string): boolean {
  return readJson<MetricsFile>(join(artifacts, modelDir(model), METRICS_FILE))?.stopped === "interrupted";
}

/** The valid NDCG@10 of the exported model (the manifest's own, else the trained model's), as publish chooses. */
export function validNdcg10(artifacts: string, model: string): number | null {
  const dir = join(artifacts, modelDir(model));
  const manifest = readJson<Manifest>(join(dir, BUNDLE_FILES.manifest));
  const metrics = readJson<MetricsFile>(join(dir, METRICS_FILE));
  const value = (manifest?.valid ?? metrics?.valid)?.["ndcg@10"];
  return typeof value === "number" ? value : null;
}
