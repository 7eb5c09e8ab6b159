// A Recommender over final user and item embeddings (LightGCN, BPR-MF, NGCF): fit trains a
// graph core with the shared trainer; score is the dot product of a user's final embedding
// with every item's.
import { type Block, type Engine, engine } from "../engine/kernels.ts";
import { GraphOps } from "../engine/graph-ops.ts";
import { DEFAULT_TILE_BYTES, type PropagationPlan, columnBlocks, planPropagation } from "../engine/propagation-plan.ts";
import { normalizedAdjacency } from "./graph/adjacency.ts";
import type { Csr } from "../protocol/csr.ts";
import { Rng } from "../util/rng.ts";
import type { TrainableCore } from "./graph/core.ts";
import { type TrainSettings, trainCore } from "./graph/trainer.ts";
import { numberParam } from "./params.ts";
import { type FoldIn, compactFoldIn } from "./foldin.ts";
import type { FitContext, FitInfo, Params, Recommender } from "./recommender.ts";

export interface CoreBuildContext {
  engine: Engine;
  ops: GraphOps;
  train: Csr;
  rng: Rng;
  params: Params;
}

/** The normalized train graph, cut into per-thread, cache-sized tiles. */
export function propagationPlan({ engine, ops, train }: CoreBuildContext, dim: number): PropagationPlan {
  const blockRows = Math.max(1, Math.floor(DEFAULT_TILE_BYTES / (dim * 4)));
  return planPropagation(engine, normalizedAdjacency(train), ops.threads, columnBlocks(train.rows, train.cols, blockRows));
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
  private ops: GraphOps | null = null;
  private final: Block<"f32"> | null = null;
  private out: Block<"f32"> | null = null;
  private info: FitInfo | null = null;
  private train: Csr | null = null;

  constructor(
    readonly name: string,
    readonly params: Params,
    private readonly build: (c: CoreBuildContext) => TrainableCore,
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
    const e = engine();
    const threads = numberParam(this.params, "threads", (v) => Number.isInteger(v) && v >= 1 && v <= 64, "an integer in 1..64");
    const ops = new GraphOps(e, threads);
    const settings = trainSettings(this.params);
    const core = this.build({ engine: e, ops, train, rng: new Rng(ctx.seed), params: this.params });
    this.core = core;
    this.ops = ops;
    this.train = train;
    const validate = (): ReturnType<NonNullable<FitContext["validate"]>> | null => {
      this.final = core.finalEmbeddings();
      return ctx.validate ? ctx.validate(this) : null;
    };
    this.info = await trainCore(core, ops, e, train, settings, ctx, validate, this.name);
    this.final = core.finalEmbeddings();
  }

  score(from: number, to: number, out: Float32Array): void {
    const { core, ops, final } = this;
    if (!core || !ops || !final) throw new Error(`${this.name}: score() before fit()`);
    const d = core.outDim;
    const need = (to - from) * core.items;
    if (!this.out || this.out.length < need) this.out = ops.engine.alloc("f32", need);
    ops.dotScores(final.slice(0, core.users * d), final.slice(core.users * d, core.items * d), core.items, d, from, to, this.out);
    out.set(this.out.view().subarray(0, need));
  }

  /** Final embeddings as plain arrays (for export). */
  embeddings(): { users: Float32Array; items: Float32Array; dim: number } {
    const { core, final } = this;
    if (!core || !final) throw new Error(`${this.name}: embeddings() before fit()`);
    const v = final.view();
    const split = core.users * core.outDim;
    return { users: v.slice(0, split), items: v.slice(split), dim: core.outDim };
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
