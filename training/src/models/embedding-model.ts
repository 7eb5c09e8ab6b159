// A Recommender over final user and item embeddings (LightGCN, BPR-MF, NGCF): fit trains a
// graph core with the shared trainer on the fit context's backend (CPU threads by default, or
// the GPU); ranking runs on that backend, and score is the dot product of a user's final
// embedding with every item's.
import type { GraphBackend, Propagation, SparseRows, Tensor } from "../engine/backend.ts";
import { cpuBackend } from "../engine/create.ts";
import { normalizedAdjacency } from "./graph/adjacency.ts";
import type { Csr } from "../protocol/csr.ts";
import { Rng } from "../util/rng.ts";
import type { TrainableCore } from "./graph/core.ts";
import { type TrainSettings, trainCore } from "./graph/trainer.ts";
import { numberParam } from "./params.ts";
import { type FoldIn, compactFoldIn } from "./foldin.ts";
import type { FitContext, FitInfo, Params, Recommender } from "./recommender.ts";

export interface CoreBuildContext {
  backend: GraphBackend;
  train: Csr;
  rng: Rng;
  params: Params;
}

/** The normalized train graph, prepared for the backend's propagation. */
export function propagationPlan({ backend, train }: CoreBuildContext, dim: number): Propagation {
  return backend.propagation(normalizedAdjacency(train), dim, [train.rows, train.cols]);
}

export function trainSettings(p: Params): TrainSettings {
  const positive = (v: number): boolean => v > 0;
  const int = (v: number): boolean => Number.isInteger(v) && v >= 1;
  return {
    epochs: numberParam(p, "epochs", int, "a positive integer"),
    batch: numberParam(p, "batch", int, "a positive integer"),
    adam: { lr: numberParam(p, "lr", positive, "positive"), beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    patience: numberParam(p, "patience", int, "a positive integer"),
    evalEvery: numberParam(p, "eval_every", int, "a positive integer"),
    lrDecay: numberParam(p, "lr_decay", (v) => v > 0 && v <= 1, "in (0, 1]"),
  };
}

/** Initial ego embeddings: N(0, std^2), or Xavier-uniform per table as RecBole does. */
export function initEmbeddings(rng: Rng, users: number, items: number, dim: number, init: string, std: number): Float32Array {
  const out = new Float32Array((users + items) * dim);
  if (init === "normal") {
    for (let i = 0; i < out.length; i++) out[i] = rng.normal() * std;
  } else if (init === "xavier") {
    const fill = (from: number, rows: number): void => {
      const bound = Math.sqrt(6 / (rows + dim));
      for (let i = from * dim; i < (from + rows) * dim; i++) out[i] = (rng.next() * 2 - 1) * bound;
    };
    fill(0, users);
    fill(users, items);
  } else {
    throw new Error(`init must be "normal" or "xavier", got ${init}`);
  }
  return out;
}

export class EmbeddingModel implements Recommender {
  private core: TrainableCore | null = null;
  private backend: GraphBackend | null = null;
  private final: Tensor | null = null;
  /** Final embeddings on the host (after fit), for score() and export. */
  private finalOnHost: Float32Array | null = null;
  private info: FitInfo | null = null;
  private train: Csr | null = null;
  private release: (() => void) | null = null;

  constructor(
    readonly name: string,
    readonly params: Params,
    private readonly build: (c: CoreBuildContext) => TrainableCore,
    /** Backends this model's core runs on (NGCF's dense ops exist only on the CPU). */
    readonly backends: readonly GraphBackend["kind"][] = ["wasm", "webgpu"],
  ) {}

  /**
   * serve_from "history" serves known users by the fold-in of their train history, so the
   * bundle carries no user table (a large catalogue's isolate cannot hold one); default "user".
   */
  get serving(): "user" | "history" {
    return this.params.serve_from === "history" ? "history" : "user";
  }

  async fit(train: Csr, ctx: FitContext): Promise<void> {
    const serveFrom = this.params.serve_from ?? "user";
    if (serveFrom !== "user" && serveFrom !== "history") throw new Error(`${this.name}: serve_from must be "user" or "history", got ${serveFrom}`);
    const precision = this.params.item_precision ?? "float32";
    if (precision !== "float32" && precision !== "compact") throw new Error(`${this.name}: item_precision must be "float32" or "compact", got ${precision}`);
    const threads = numberParam(this.params, "threads", (v) => Number.isInteger(v) && v >= 1 && v <= 64, "an integer in 1..64");
    const backend = ctx.backend ?? cpuBackend(threads, ctx.memory);
    if (!this.backends.includes(backend.kind)) {
      throw new Error(`${this.name} trains on the CPU only: the ${backend.kind} backend has no kernels for it. Train it with --device cpu.`);
    }
    this.dispose();
    this.release = backend.openScope();
    const settings = trainSettings(this.params);
    const core = this.build({ backend, train, rng: new Rng(ctx.seed), params: this.params });
    this.core = core;
    this.backend = backend;
    this.train = train;
    const validate = async (): Promise<Awaited<ReturnType<NonNullable<FitContext["validate"]>>> | null> => {
      this.final = core.finalEmbeddings();
      return ctx.validate ? await ctx.validate(this) : null;
    };
    this.info = await trainCore(core, backend, train, settings, ctx, validate, this.name);
    // host copies of what fold-in and export need, from the restored best parameters
    await core.snapshot?.();
    this.final = core.finalEmbeddings();
    this.finalOnHost = await backend.download(this.final);
  }

  /** Frees the model's backend memory; the model cannot score afterwards. */
  dispose(): void {
    this.release?.();
    this.release = null;
    this.core = null;
    this.final = null;
  }

  /** Full ranking on the backend that trained the model (see GraphBackend.topK). */
  rank(users: Int32Array, exclude: SparseRows, k: number): Promise<Int32Array> {
    const { core, backend, final } = this;
    if (!core || !backend || !final) throw new Error(`${this.name}: rank() before fit()`);
    return backend.topK(final, core.outDim, core.users, core.items, users, exclude, k);
  }

  score(from: number, to: number, out: Float32Array): void {
    const { core, finalOnHost: f } = this;
    if (!core || !f) throw new Error(`${this.name}: score() before fit()`);
    const d = core.outDim;
    const items = core.items;
    const itemBase = core.users * d;
    for (let u = from; u < to; u++) {
      const ub = u * d;
      const row = (u - from) * items;
      for (let i = 0; i < items; i++) {
        const ib = itemBase + i * d;
        let s = 0;
        for (let c = 0; c < d; c++) s += f[ub + c] * f[ib + c];
        out[row + i] = s;
      }
    }
  }

  /** Final embeddings as plain arrays (for export). */
  embeddings(): { users: Float32Array; items: Float32Array; dim: number } {
    const { core, finalOnHost: f } = this;
    if (!core || !f) throw new Error(`${this.name}: embeddings() before fit()`);
    const split = core.users * core.outDim;
    return { users: f.slice(0, split), items: f.slice(split), dim: core.outDim };
  }

  /** LightGCN and BPR-MF fold in new users; NGCF has no fold-in (null). */
  foldIn(overrides: Params = {}): FoldIn | null {
    const { core, train } = this;
    if (!core || !train) throw new Error(`${this.name}: foldIn() before fit()`);
    if (!core.foldIn) return null;
    const p = { ...this.params, ...overrides };
    const ego = p.foldin_ego === "fit" ? "fit" : numberParam(p, "foldin_ego", (v) => v >= 0, `"fit" or a number >= 0`);
    const f = core.foldIn(train, ego);
    // item_precision "compact": float16 contributions and int8 candidates, for large catalogues
    return p.item_precision === "compact" && f.kind === "propagated" ? compactFoldIn(f) : f;
  }

  fitInfo(): FitInfo {
    if (!this.info) throw new Error(`${this.name}: fitInfo() before fit()`);
    return this.info;
  }
}
