// Loads the published model once per isolate and keeps it: concurrent first requests share one
// load, and a new models/current.json is picked up without a redeploy (looked for at most every
// MODEL_REFRESH_SECONDS). A failed refresh keeps serving the model already loaded.
import {
  BUNDLE_FILES,
  type CurrentPointer,
  type IdMaps,
  type Manifest,
  type MovieMeta,
  R2_POINTER,
  type RatedCsr,
  decodeRated,
  r2Key,
} from "../../training/src/contract/artifacts.ts";
import type { Env } from "./env.ts";
import { ApiError } from "./errors.ts";
import { type Ort, onnxRuntime } from "./ort.ts";

export interface LoadedModel {
  version: string;
  manifest: Manifest;
  recs: import("onnxruntime-web").InferenceSession;
  similar: import("onnxruntime-web").InferenceSession;
  /** The history-based graph (fold-in), when the bundle has one. */
  foldin: import("onnxruntime-web").InferenceSession | null;
  ort: Ort;
  rated: RatedCsr;
  movies: MovieMeta[];
  userIndex: Map<number, number>;
  itemIndex: Map<number, number>;
  loadedAt: string;
}

const DEFAULT_REFRESH_SECONDS = 60;
const PUBLISH_HINT = "run `npm run publish -- --local` (or `-- --remote`) to publish a trained model";

async function readObject(bucket: R2Bucket, key: string): Promise<ArrayBuffer> {
  const obj = await bucket.get(key);
  if (!obj) throw new ApiError(503, "model_unavailable", `published model is incomplete: ${key} is missing; ${PUBLISH_HINT}`);
  return obj.arrayBuffer();
}

async function sha256(bytes: ArrayBuffer): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function readPointer(bucket: R2Bucket): Promise<CurrentPointer> {
  const obj = await bucket.get(R2_POINTER);
  if (!obj) throw new ApiError(503, "no_model", `no model is published yet; ${PUBLISH_HINT}`);
  try {
    const p = (await obj.json()) as CurrentPointer;
    if (typeof p.version !== "string" || typeof p.manifest !== "string") throw new Error("fields missing");
    return p;
  } catch {
    throw new ApiError(503, "model_unavailable", `${R2_POINTER} is not a valid pointer; ${PUBLISH_HINT}`);
  }
}

async function loadVersion(bucket: R2Bucket, pointer: CurrentPointer): Promise<LoadedModel> {
  const manifest = JSON.parse(new TextDecoder().decode(await readObject(bucket, pointer.manifest))) as Manifest;
  if (manifest.format !== 1 || manifest.version !== pointer.version) {
    throw new ApiError(503, "model_unavailable", `manifest of ${pointer.version} is not readable (format or version mismatch); ${PUBLISH_HINT}`);
  }
  const keys = Object.keys(manifest.files) as (keyof Manifest["files"])[];
  const bytes = Object.fromEntries(
    await Promise.all(
      keys.map(async (k) => {
        const data = await readObject(bucket, r2Key(manifest.version, BUNDLE_FILES[k]));
        const expected = manifest.files[k]!;
        if (data.byteLength !== expected.bytes || (await sha256(data)) !== expected.sha256) {
          throw new ApiError(
            503,
            "model_unavailable",
            `${BUNDLE_FILES[k]} of ${manifest.version} does not match its manifest (size or sha256); ${PUBLISH_HINT}`,
          );
        }
        return [k, data] as const;
      }),
    ),
  ) as Record<(typeof keys)[number], ArrayBuffer>;

  const ort = await onnxRuntime();
  const text = (b: ArrayBuffer): string => new TextDecoder().decode(b);
  const ids = JSON.parse(text(bytes.ids)) as IdMaps;
  const [recs, similar, foldin] = await Promise.all([
    ort.InferenceSession.create(new Uint8Array(bytes.model)),
    ort.InferenceSession.create(new Uint8Array(bytes.similar)),
    bytes.foldin && manifest.foldin ? ort.InferenceSession.create(new Uint8Array(bytes.foldin)) : null,
  ]);
  return {
    version: manifest.version,
    manifest,
    recs,
    similar,
    foldin,
    ort,
    rated: decodeRated(bytes.rated),
    movies: JSON.parse(text(bytes.movies)) as MovieMeta[],
    userIndex: new Map(ids.users.map((id, i) => [id, i])),
    itemIndex: new Map(ids.items.map((id, i) => [id, i])),
    loadedAt: new Date().toISOString(),
  };
}

/** A request's hold on a loaded model: the model stays usable until release(). */
export interface Lease {
  model: LoadedModel;
  release(): void;
}

const DEFAULT_LOAD_TIMEOUT_SECONDS = 10;

/** ORT sessions hold wasm memory outside the JS heap: release them explicitly. */
async function dispose(model: LoadedModel): Promise<void> {
  await Promise.all([model.recs.release(), model.similar.release(), model.foldin?.release()]);
}

function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ApiError(503, "model_unavailable", `${what} did not finish within ${ms / 1000} s; the next attempt comes after the refresh interval`)),
      ms,
    );
  });
  return Promise.race([work, deadline]).finally(() => {
    if (timer !== undefined) clearTimeout(timer);
  });
}

export class ModelStore {
  private current: LoadedModel | null = null;
  private pending: Promise<LoadedModel> | null = null;
  private checkedAt = 0;
  /** The last failed load while nothing is loaded: answered again until the interval passes. */
  private failure: { at: number; error: ApiError } | null = null;
  /** Requests using each model; a replaced model is released when its count reaches zero. */
  private readonly users = new Map<LoadedModel, number>();
  private readonly retired = new Set<LoadedModel>();
  /** Versions loaded so far by this isolate (observability and tests). */
  loads = 0;
  /** Models whose ONNX sessions were released after a swap (observability and tests). */
  released = 0;

  /** The model to answer with, held until the lease is released (see withModel). */
  async acquire(env: Env): Promise<Lease> {
    const model = await this.get(env);
    this.users.set(model, (this.users.get(model) ?? 0) + 1);
    let done = false;
    return {
      model,
      release: () => {
        if (done) return;
        done = true;
        const left = (this.users.get(model) ?? 1) - 1;
        if (left > 0) this.users.set(model, left);
        else {
          this.users.delete(model);
          if (this.retired.has(model)) this.free(model);
        }
      },
    };
  }

  /** The model to answer with: loads it on first use, refreshes it when the interval passed. */
  private async get(env: Env): Promise<LoadedModel> {
    const refreshMs = 1000 * Number(env.MODEL_REFRESH_SECONDS ?? DEFAULT_REFRESH_SECONDS);
    if (this.current && Date.now() - this.checkedAt < refreshMs) return this.current;
    // a failed load is retried once per refresh interval, never once per request
    if (!this.current && this.failure && Date.now() - this.failure.at < refreshMs) throw this.failure.error;
    if (this.pending) return this.current ?? this.pending;
    const timeoutMs = 1000 * Number(env.MODEL_LOAD_TIMEOUT_SECONDS ?? DEFAULT_LOAD_TIMEOUT_SECONDS);
    this.pending = this.refresh(env, timeoutMs).finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  private async refresh(env: Env, timeoutMs: number): Promise<LoadedModel> {
    try {
      const pointer = await withDeadline(readPointer(env.MODELS), timeoutMs, "reading models/current.json");
      if (this.current?.version !== pointer.version) {
        const next = await withDeadline(loadVersion(env.MODELS, pointer), timeoutMs, `loading model ${pointer.version}`);
        const previous = this.current;
        this.current = next;
        this.loads++;
        if (previous) this.retire(previous);
      }
      this.checkedAt = Date.now();
      this.failure = null;
      return this.current;
    } catch (err) {
      if (!this.current) {
        // the cause goes to the log; the client gets a message without internals
        if (!(err instanceof ApiError)) console.error("model load failed", err);
        const error = err instanceof ApiError ? err : new ApiError(503, "model_unavailable", `the published model could not be loaded; ${PUBLISH_HINT}`);
        this.failure = { at: Date.now(), error };
        throw error;
      }
      console.error(`keeping model ${this.current.version}: refresh failed`, err);
      this.checkedAt = Date.now();
      return this.current;
    }
  }

  private retire(model: LoadedModel): void {
    if (this.users.has(model)) this.retired.add(model);
    else this.free(model);
  }

  private free(model: LoadedModel): void {
    this.retired.delete(model);
    this.released++;
    dispose(model).catch((err) => console.error(`releasing model ${model.version} failed`, err));
  }
}
