// Holds the published model for the isolate: loads it once (concurrent first requests share one
// load), picks up a new models/current.json without a redeploy (looked for at most every
// MODEL_REFRESH_SECONDS), keeps serving the loaded model when a refresh fails, and releases a
// replaced model once no request holds it. With MODEL_SWAP=release-first a swap never holds two
// versions' sessions: the old one is drained and released before the new one's are built.
// Never dark: a fresh isolate whose published version will not load serves the newest of the
// pointer's previous versions that loads (the bucket's newest versions when the pointer itself is
// unreadable), and `degraded` says why (GET /health shows it); a
// broken publication is tried again with a growing backoff (docs/reliability.md).
import type { Env } from "./env.ts";
import { ApiError } from "./errors.ts";
import { log } from "./log.ts";
import { type CurrentPointer, KEEP_PREVIOUS, R2_POINTER } from "../../training/src/contract/artifacts.ts";
import { type LoadOptions, type LoadedModel, PUBLISH_HINT, disposeModel, listedVersions, loadVersion, readPointer, warmUp } from "./model-load.ts";
import { initializedOnnxRuntime, onnxRuntime, runtimeStart, warmedOnnxRuntime } from "./ort.ts";
import { baseDatabase } from "./edge/session.ts";
import rankKernel from "../build/rank-int8.wasm";

export type { LoadedModel } from "./model-load.ts";

/** Why the isolate serves another version than the one models/current.json names. */
export interface Degraded {
  /** The version the pointer names (null: the pointer itself could not be read). */
  wanted: string | null;
  /** Why it is not served: what its load answered, in words a client may read. */
  reason: string;
}

const DEFAULT_REFRESH_SECONDS = 60;

/** One phase of a model's load and its wall time (PhaseTimer, plus "pointer": reading models/current.json). */
export interface LoadPhase {
  name: string;
  ms: number;
}

/** A request's hold on a loaded model: the model stays usable until release(). */
interface Lease {
  model: LoadedModel;
  release(): void;
  /** The phases of the load this request waited for (its Server-Timing shows them); null when it waited for none. */
  loadPhases: readonly LoadPhase[] | null;
}

const DEFAULT_LOAD_TIMEOUT_SECONDS = 10;
/** How often a release-first swap checks whether the old model's last request has finished. */
const DRAIN_POLL_MS = 5;
/**
 * How long a replaced model waits for the requests holding it. workerd cancels a request whose
 * client disconnected without running its finally blocks, so such a request never gives its lease
 * back: without a limit, one impatient client kept the old model forever (and, with release-first
 * swaps, made every later swap wait until its deadline; bench:faults). A live request holds a
 * model for milliseconds; past this limit the holders are taken to be gone.
 */
const DRAIN_LIMIT_MS = 3000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Another request's load, awaited by polling on this request's own timer. A request waiting only
 * on a promise that a different request will settle has no I/O or timer of its own, and workerd
 * may cancel it as hung (bench:faults saw clusters of such 500s during hot swaps). `limitMs`
 * bounds the wait should the loading request be canceled before its own deadline fires.
 */
async function waitWithTimers<T>(work: Promise<T>, limitMs: number): Promise<T> {
  let outcome: { value: T } | { error: unknown } | null = null;
  work.then(
    (value) => {
      outcome = { value };
    },
    (error: unknown) => {
      outcome = { error };
    },
  );
  const started = Date.now();
  while (outcome === null) {
    if (Date.now() - started > limitMs)
      throw new ApiError(503, "model_unavailable", `the model load this request waited on did not finish within ${limitMs / 1000} s`);
    await sleep(DRAIN_POLL_MS);
  }
  const settled = outcome as { value: T } | { error: unknown };
  if ("error" in settled) throw settled.error;
  return settled.value;
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

/**
 * Loads a version within a deadline. A load that outlives its deadline still finishes in the
 * background: its model is released then, or nothing would ever release its sessions.
 */
function loadWithDeadline(
  env: Env,
  pointer: CurrentPointer,
  timeoutMs: number,
  what: string,
  opts: Pick<LoadOptions, "beforeSessions" | "phase"> = {},
): Promise<LoadedModel> {
  // ORT's init was begun with the pointer's read (refresh); its first session is made while the files are read
  const load = onnxRuntime().then((ort) =>
    loadVersion(env.MODELS, pointer, ort, { db: baseDatabase(env.DB), kernel: rankKernel, runtime: warmedOnnxRuntime, ...opts }),
  );
  return withDeadline(load, timeoutMs, what).catch((err: unknown) => {
    load.then(disposeModel, () => {}).catch((e: unknown) => console.error(`releasing ${pointer.version}, loaded after its deadline, failed`, e));
    throw err;
  });
}

/** A failed version is tried again after 1, 2, 4 ... 64 refresh intervals (about an hour by default), then every 64. */
const MAX_BACKOFF_DOUBLINGS = 6;

/** One publication: a version published again (a new `published`) is tried at once. */
function pointerKey(pointer: CurrentPointer): string {
  return `${pointer.version}\n${pointer.published}`;
}

/** What a failed load says to clients: an ApiError's message; anything else stays in the log. */
function clientReason(err: unknown): string {
  return err instanceof ApiError ? err.message : `the published model could not be loaded; ${PUBLISH_HINT}`;
}

export class ModelStore {
  private current: LoadedModel | null = null;
  private pending: Promise<LoadedModel> | null = null;
  private checkedAt = 0;
  /** The last failed load while nothing is loaded: answered again until the interval passes. */
  private failure: { at: number; error: ApiError } | null = null;
  /** Requests using each model; a replaced model is released when its count reaches zero. */
  private readonly users = new Map<LoadedModel, number>();
  /** Replaced models still held by requests, with when they were replaced. */
  private readonly retired = new Map<LoadedModel, number>();
  /** The pointer the current model was loaded from (to load it again if a release-first swap fails). */
  private currentPointer: CurrentPointer | null = null;
  /** A release-first swap is draining or rebuilding: requests wait for it instead of using the old model. */
  private swapping = false;
  /** Counts swaps: a swap that timed out must not release anything once it resumes. */
  private swapGeneration = 0;
  /** Models whose sessions were released: a request that got one just before is sent to the next. */
  private readonly disposed = new WeakSet<LoadedModel>();
  /**
   * Set while the served version is not the one the pointer names: its load failed, and this
   * isolate serves the model it had, or (a fresh isolate) the newest previous version that loads.
   */
  degraded: Degraded | null = null;
  /**
   * The pointer whose version last failed to load while a model is served: tried again only after
   * 1, 2, 4... refresh intervals (at most MAX_BACKOFF_DOUBLINGS doublings), not every interval. A
   * failed load is not free: ONNX Runtime keeps about the graph's size of its wasm memory for
   * every graph it refuses while building a session (bench:abuse), so retrying a broken version
   * each minute would grow the isolate until it is killed.
   */
  private refused: { pointer: string; failures: number; until: number } | null = null;
  /** Versions loaded so far by this isolate (observability and tests). */
  loads = 0;
  /** How each loaded model's load spent its time, the pointer's read first (Server-Timing). */
  private readonly loadPhases = new WeakMap<LoadedModel, LoadPhase[]>();
  /** The phases of the load under way (refresh), moved to loadPhases once its model is loaded. */
  private phases: LoadPhase[] = [];
  /** Models whose ONNX sessions were released after a swap (observability and tests). */
  released = 0;

  /**
   * The model to answer with, held until the lease is released (see withModel). `waitUntil` is
   * the request's ExecutionContext.waitUntil: a load this request starts is registered with it.
   * Other requests wait on that load too, and a request's I/O is canceled when its client
   * disconnects unless waitUntil holds it, so without it one impatient client would leave every
   * waiting request hung (the runtime then answers them 500).
   */
  async acquire(env: Env, waitUntil?: (work: Promise<unknown>) => void): Promise<Lease> {
    // a load finished while this request waited: its phases go in the request's Server-Timing
    const loadsBefore = this.loads;
    let model = await this.get(env, waitUntil);
    while (this.disposed.has(model)) model = await this.get(env, waitUntil);
    this.users.set(model, (this.users.get(model) ?? 0) + 1);
    let done = false;
    return {
      model,
      loadPhases: this.loads !== loadsBefore ? (this.loadPhases.get(model) ?? null) : null,
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

  /**
   * Begins a fresh isolate's first load without waiting for it (nothing when a model is loaded or
   * loading): a recommendation reads its A/B experiment from D1 before it asks for its model, and
   * the load need not wait for that read. True while the isolate has no model yet (the request
   * will wait for the load).
   */
  prepare(env: Env, waitUntil?: (work: Promise<unknown>) => void): boolean {
    if (this.current) return false;
    // a failed load is not tried again before the refresh interval: the request will get its 503
    const refreshMs = 1000 * Number(env.MODEL_REFRESH_SECONDS ?? DEFAULT_REFRESH_SECONDS);
    if (!this.pending && this.failure && Date.now() - this.failure.at < refreshMs) return false;
    if (!this.pending) this.get(env, waitUntil).catch(() => {});
    return true;
  }

  /** The model to answer with: loads it on first use, refreshes it when the interval passed. */
  private async get(env: Env, waitUntil?: (work: Promise<unknown>) => void): Promise<LoadedModel> {
    this.freeAbandoned();
    const refreshMs = 1000 * Number(env.MODEL_REFRESH_SECONDS ?? DEFAULT_REFRESH_SECONDS);
    if (this.current && Date.now() - this.checkedAt < refreshMs) return this.current;
    // a failed load is retried once per refresh interval, never once per request
    if (!this.current && this.failure && Date.now() - this.failure.at < refreshMs) throw this.failure.error;
    // a fresh isolate may try the pointer's version and then each previous one: its waiters wait for all
    if (this.pending) return this.swapping || !this.current ? waitWithTimers(this.pending, (1 + KEEP_PREVIOUS) * this.loadTimeoutMs(env) + 1000) : this.current;
    const timeoutMs = this.loadTimeoutMs(env);
    this.pending = this.refresh(env, timeoutMs).finally(() => {
      this.pending = null;
    });
    waitUntil?.(this.pending.catch(() => {}));
    return this.pending;
  }

  private loadTimeoutMs(env: Env): number {
    return 1000 * Number(env.MODEL_LOAD_TIMEOUT_SECONDS ?? DEFAULT_LOAD_TIMEOUT_SECONDS);
  }

  private async refresh(env: Env, timeoutMs: number): Promise<LoadedModel> {
    let pointer: CurrentPointer | null = null;
    // a fresh isolate starts ORT's runtime now, while the pointer is read (ort-start.ts)
    if (!this.current) initializedOnnxRuntime();
    this.phases = [];
    const phase = (name: string, ms: number): void => {
      this.phases.push({ name, ms });
    };
    try {
      const started = performance.now();
      pointer = await withDeadline(readPointer(env.MODELS), timeoutMs, "reading models/current.json");
      phase("pointer", performance.now() - started);
      if (this.current && this.current.version !== pointer.version && this.refused?.pointer === pointerKey(pointer) && Date.now() < this.refused.until) {
        // the same broken publication: not loaded again before its backoff ends (still degraded)
        this.checkedAt = Date.now();
        return this.current;
      }
      if (this.current?.version !== pointer.version) {
        const previous = this.current;
        const releaseFirst = env.MODEL_SWAP === "release-first" && previous !== null;
        let next: LoadedModel;
        try {
          next = await loadWithDeadline(env, pointer, timeoutMs, `loading model ${pointer.version}`, {
            beforeSessions: releaseFirst ? () => this.releaseBeforeSessions(previous) : undefined,
            phase,
          });
          // ORT's start ran beside the reads above (its time is inside theirs): shown once, on the first load
          if (this.loads === 0) for (const [name, ms] of Object.entries(runtimeStart)) if (ms !== null) phase(`ort-${name}`, ms);
          this.loadPhases.set(next, this.phases);
        } catch (err) {
          this.swapGeneration++;
          if (releaseFirst && this.current === null) await this.restore(env, timeoutMs, previous);
          throw err;
        } finally {
          this.swapping = false;
        }
        this.current = next;
        this.currentPointer = pointer;
        this.loads++;
        this.warmUpSoon(next);
        if (previous && !releaseFirst) this.retire(previous);
      }
      this.checkedAt = Date.now();
      this.failure = null;
      this.degraded = null;
      this.refused = null;
      return this.current;
    } catch (err) {
      const reason = clientReason(err);
      if (pointer) this.backOff(env, pointer);
      // never dark: a fresh isolate serves the newest previous version that loads
      if (!this.current && pointer) await this.fallBack(env, pointer, timeoutMs, reason);
      // an unreadable pointer takes its list of previous versions with it: the bucket's newest
      // manifests stand in (a missing pointer stays "no model published yet")
      if (!this.current && !pointer && err instanceof ApiError && err.code === "model_unavailable") {
        const listed = await withDeadline(listedVersions(env.MODELS, 1 + KEEP_PREVIOUS), timeoutMs, "listing models/").catch((e: unknown) => {
          log.warn("listing the bucket's versions failed", e);
          return [];
        });
        await this.fallBack(env, { version: R2_POINTER, manifest: "", published: "", previous: listed }, timeoutMs, reason);
      }
      if (!this.current) {
        // the cause goes to the log; the client gets a message without internals
        if (!(err instanceof ApiError)) log.error("model load failed", err);
        const error = err instanceof ApiError ? err : new ApiError(503, "model_unavailable", `the published model could not be loaded; ${PUBLISH_HINT}`);
        this.failure = { at: Date.now(), error };
        throw error;
      }
      if (pointer?.version !== this.current.version) {
        log.warn(`keeping model ${this.current.version}: refresh failed`, err);
        this.degraded = { wanted: pointer?.version ?? null, reason };
      }
      this.checkedAt = Date.now();
      this.failure = null;
      return this.current;
    }
  }

  /** Counts a failed load of the pointer's version and sets when it may be tried again. */
  private backOff(env: Env, pointer: CurrentPointer): void {
    const key = pointerKey(pointer);
    const failures = this.refused?.pointer === key ? this.refused.failures + 1 : 1;
    const refreshMs = 1000 * Number(env.MODEL_REFRESH_SECONDS ?? DEFAULT_REFRESH_SECONDS);
    this.refused = { pointer: key, failures, until: Date.now() + refreshMs * 2 ** Math.min(failures - 1, MAX_BACKOFF_DOUBLINGS) };
  }

  /** Loads the pointer's previous versions newest first; the first that loads is served, degraded. */
  private async fallBack(env: Env, pointer: CurrentPointer, timeoutMs: number, reason: string): Promise<void> {
    for (const previous of pointer.previous ?? []) {
      const fallback: CurrentPointer = { version: previous.version, manifest: previous.manifest, published: pointer.published, created: previous.created };
      try {
        this.current = await loadWithDeadline(env, fallback, timeoutMs, `loading previous model ${previous.version}`);
      } catch (err) {
        log.warn(`previous model ${previous.version} could not be loaded either`, err);
        continue;
      }
      this.currentPointer = fallback;
      this.loads++;
      log.warn(`serving previous model ${previous.version}: ${pointer.version} could not be loaded (${reason})`);
      return;
    }
  }

  /**
   * Release-first swaps: once the new version's files are fetched, verified and parsed, new requests
   * wait, the requests holding the old model finish, and its sessions are released.
   */
  private async releaseBeforeSessions(previous: LoadedModel): Promise<void> {
    const generation = this.swapGeneration;
    this.swapping = true;
    // Polled on a timer, not awaited as a promise the draining requests resolve: workerd cancels
    // as hung a request waiting with no I/O or timer of its own, and the load belongs to the
    // request that started it, so every request waiting on the load was canceled with it
    // (bench:faults: hundreds of 500s a swap under load, before this).
    const started = Date.now();
    while (this.users.has(previous) && generation === this.swapGeneration && Date.now() - started < DRAIN_LIMIT_MS) await sleep(DRAIN_POLL_MS);
    if (generation === this.swapGeneration && this.users.has(previous)) this.forgetHolders(previous);
    // a swap that outlived its deadline has been given up: the old model stays
    if (generation !== this.swapGeneration) throw new Error("swap abandoned");
    this.current = null;
    this.disposed.add(previous);
    this.released++;
    await disposeModel(previous);
  }

  /** A release-first swap failed after the old model was released: load the old version again. */
  private async restore(env: Env, timeoutMs: number, previous: LoadedModel): Promise<void> {
    const pointer = this.currentPointer;
    if (!pointer) return;
    try {
      this.current = await loadWithDeadline(env, pointer, timeoutMs, `loading model ${pointer.version} again`);
      this.loads++;
      log.warn(`swap from ${previous.version} failed: serving ${previous.version} again`);
    } catch (err) {
      log.error(`swap from ${previous.version} failed, and reloading it failed too`, err);
    }
  }

  /**
   * A newly loaded model's first ranking, run on the next turn: the request that waited for the
   * load reads its user's state first (D1, the location's cache), and the warm-up runs during
   * that wait instead of inside the request's own first ranking.
   */
  private warmUpSoon(model: LoadedModel): void {
    setTimeout(() => {
      if (!this.disposed.has(model)) warmUp(model).catch(() => {});
    }, 0);
  }

  private retire(model: LoadedModel): void {
    if (this.users.has(model)) this.retired.set(model, Date.now());
    else this.free(model);
  }

  /** Replaced models whose last holders are past DRAIN_LIMIT_MS: their leases were abandoned. */
  private freeAbandoned(): void {
    for (const [model, since] of this.retired) {
      if (Date.now() - since < DRAIN_LIMIT_MS) continue;
      this.forgetHolders(model);
      this.free(model);
    }
  }

  /** Past DRAIN_LIMIT_MS the requests still holding a model are taken to be gone (canceled by their clients). */
  private forgetHolders(model: LoadedModel): void {
    log.warn(`releasing ${model.version} although ${this.users.get(model) ?? 0} requests never gave it back (canceled by their clients)`);
    this.users.delete(model);
  }

  private free(model: LoadedModel): void {
    this.retired.delete(model);
    this.disposed.add(model);
    this.released++;
    disposeModel(model).catch((err) => log.error(`releasing model ${model.version} failed`, err));
  }
}
