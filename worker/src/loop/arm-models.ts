// The published version an experiment arm pins (docs/loop.md), held beside the current model:
// at most one per isolate, because a Worker isolate has 128 MB and the current model already
// holds its tables and ONNX sessions there. A version is immutable, so once loaded it is never
// refreshed; when the experiment pins another one (or none), the old one is released as soon as
// no request holds it. A failed load is retried at most once per MODEL_REFRESH_SECONDS, and the
// requests meanwhile are served by the current model (the answer's `model` says which served).
import { BUNDLE_FILES, type CurrentPointer, r2Key } from "../../../training/src/contract/artifacts.ts";
import rankKernel from "../../build/rank-int8.wasm";
import type { Env } from "../env.ts";
import { log } from "../log.ts";
import { type LoadedModel, disposeModel, loadVersion } from "../model-load.ts";
import type { ModelStore } from "../model-store.ts";
import { onnxRuntime } from "../ort.ts";
import { baseDatabase } from "../edge/session.ts";

interface Held {
  version: string;
  load: Promise<LoadedModel>;
  holders: number;
  /** Replaced by another version: released when its last holder is done. */
  retired: boolean;
}

export interface ArmLease {
  model: LoadedModel;
  release(): void;
}

/** The load, or null once MODEL_LOAD_TIMEOUT_SECONDS have passed (the load goes on). */
async function withinLoadTimeout(env: Env, load: Promise<LoadedModel>): Promise<LoadedModel | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), 1000 * Number(env.MODEL_LOAD_TIMEOUT_SECONDS ?? 10));
  });
  try {
    return await Promise.race([load, deadline]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

export class ArmModels {
  private held: Held | null = null;
  private failed: { version: string; at: number } | null = null;

  /** The pinned version, loaded on first use; null when it cannot be loaded now (serve the current model). */
  async acquire(env: Env, version: string): Promise<ArmLease | null> {
    const refreshMs = 1000 * Number(env.MODEL_REFRESH_SECONDS ?? 60);
    if (this.failed?.version === version && Date.now() - this.failed.at < refreshMs) return null;
    if (this.held?.version !== version) this.replace(env, version);
    const held = this.held as Held;
    held.holders++;
    let model: LoadedModel | null;
    try {
      model = await withinLoadTimeout(env, held.load);
    } catch (err) {
      held.holders--;
      if (this.held === held) {
        this.held = null;
        this.failed = { version, at: Date.now() };
        log.warn(`arm version ${version} could not be loaded: its users get the current model`, err);
      }
      return null;
    }
    if (model === null) {
      // still loading past the deadline: this request gets the current model, the load goes on
      held.holders--;
      if (held.retired && held.holders === 0) this.free(held);
      return null;
    }
    let done = false;
    return {
      model,
      release: () => {
        if (done) return;
        done = true;
        held.holders--;
        if (held.retired && held.holders === 0) this.free(held);
      },
    };
  }

  /** Stops holding the pinned version (the experiment no longer names one). */
  drop(): void {
    if (this.held) this.retire(this.held);
    this.held = null;
  }

  private replace(env: Env, version: string): void {
    if (this.held) this.retire(this.held);
    const pointer: CurrentPointer = { version, manifest: r2Key(version, BUNDLE_FILES.manifest), published: "" };
    const load = onnxRuntime().then((ort) => loadVersion(env.MODELS, pointer, ort, { db: baseDatabase(env.DB), kernel: rankKernel }));
    load.catch(() => {});
    this.held = { version, load, holders: 0, retired: false };
  }

  private retire(held: Held): void {
    held.retired = true;
    if (held.holders === 0) this.free(held);
  }

  private free(held: Held): void {
    held.load.then(disposeModel, () => {}).catch((err: unknown) => log.error(`releasing arm version ${held.version} failed`, err));
  }
}

/** One ArmModels per model store (an isolate has one; tests make several). */
const perStore = new WeakMap<ModelStore, ArmModels>();

export function armModelsOf(store: ModelStore): ArmModels {
  let arms = perStore.get(store);
  if (!arms) {
    arms = new ArmModels();
    perStore.set(store, arms);
  }
  return arms;
}
