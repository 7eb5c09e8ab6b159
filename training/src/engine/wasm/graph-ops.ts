// Typed, multi-threaded API over the graph-model kernels: propagation over the normalized
// adjacency (rows split across threads by nonzeros), the BPR and L2 gradients, Adam, and
// dot-product scoring. Every buffer is a Block of the engine's shared memory. Model-specific
// ops live next to their model (NGCF's in models/graph/ngcf-ops.ts).
import { type AdamSettings, checkSizes } from "../backend.ts";
import type { Block, Engine } from "./kernels.ts";
import { type KernelPool, evenRanges } from "./pool.ts";
import type { PropagationPlan } from "./propagation-plan.ts";

/** BPR triples in kernel memory (node ids). */
export interface TripleBlocks {
  users: Block<"i32">;
  pos: Block<"i32">;
  neg: Block<"i32">;
}

export class GraphOps {
  readonly pool: KernelPool;

  constructor(
    readonly engine: Engine,
    threads: number,
  ) {
    this.pool = engine.pool(threads);
  }

  get threads(): number {
    return this.pool.threads;
  }

  /** dst = A * src (unless dst is null) and acc += A * src (unless acc is null); [rows x d]. */
  propagate(plan: PropagationPlan, src: Block<"f32">, dst: Block<"f32"> | null, acc: Block<"f32"> | null, d: number): void {
    if (plan.threads !== this.threads) throw new Error(`plan made for ${plan.threads} threads, pool has ${this.threads}`);
    checkSizes("propagate", plan.rows * d, { src, dst, acc });
    this.pool.run(
      "propagateTiles",
      plan.tables.map((t) => [t.table.ptr, t.tiles, src.ptr, dst?.ptr ?? 0, acc?.ptr ?? 0, d]),
    );
  }

  /**
   * Adds dLoss/dF of the mean BPR loss over triples t0..t1 to grad, where F = embScale * emb;
   * returns the summed loss. Runs on the calling thread: the scatter into grad would race.
   */
  bprGrad(t: TripleBlocks, t0: number, t1: number, emb: Block<"f32">, embScale: number, grad: Block<"f32">, d: number, batchSize: number): number {
    return this.engine.k.bprGrad(t.users.ptr, t.pos.ptr, t.neg.ptr, t0, t1, emb.ptr, embScale, grad.ptr, d, 1 / batchSize);
  }

  /** grad[row] += coef * param[row] for every row of the triples; returns the sum of squared norms. */
  l2Grad(t: TripleBlocks, t0: number, t1: number, param: Block<"f32">, grad: Block<"f32">, d: number, coef: number): number {
    return this.engine.k.l2Grad(t.users.ptr, t.pos.ptr, t.neg.ptr, t0, t1, param.ptr, grad.ptr, d, coef);
  }

  /** One Adam step (step counts from 1) with gradient gradScale * grad, split across threads. */
  adam(param: Block<"f32">, grad: Block<"f32">, m: Block<"f32">, v: Block<"f32">, step: number, gradScale: number, s: AdamSettings): void {
    const n = param.length;
    const bc1 = 1 - s.beta1 ** step;
    const bc2 = 1 - s.beta2 ** step;
    this.pool.run(
      "adamF32",
      evenRanges(n, this.threads).map(([i0, i1]) => [param.ptr, grad.ptr, m.ptr, v.ptr, i0, i1, gradScale, s.lr, s.beta1, s.beta2, s.eps, bc1, bc2]),
    );
  }

  /** out[(u - u0) x items] = users[u] . items[i], users u0..u1, split across threads. */
  dotScores(users: Block<"f32">, items: Block<"f32">, nItems: number, d: number, u0: number, u1: number, out: Block<"f32">): void {
    if (out.length < (u1 - u0) * nItems) throw new RangeError("dotScores: output too small");
    this.pool.run(
      "dotScoresF32",
      evenRanges(u1 - u0, this.threads, 1).map(([a, b]) => [users.ptr, items.ptr, nItems, d, u0 + a, u0 + b, out.ptr + a * nItems * 4]),
    );
  }
}
