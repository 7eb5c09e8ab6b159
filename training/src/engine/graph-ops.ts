// Typed, multi-threaded API over the graph-model kernels: propagation over the normalized
// adjacency (rows split across threads by nonzeros), the BPR and L2 gradients, Adam, and
// dot-product scoring. Every buffer is a Block of the engine's shared memory.
import type { Block, Engine } from "./kernels.ts";
import { type KernelPool, evenRanges } from "./pool.ts";
import type { PropagationPlan } from "./propagation-plan.ts";

export interface Triples {
  users: Block<"i32">;
  pos: Block<"i32">;
  neg: Block<"i32">;
}

export interface AdamSettings {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
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
    const size = plan.rows * d;
    for (const [what, b] of [
      ["src", src],
      ["dst", dst],
      ["acc", acc],
    ] as const) {
      if (b && b.length !== size) throw new RangeError(`propagate ${what}: ${b.length} values, expected ${size}`);
    }
    this.pool.run(
      "propagateTiles",
      plan.tables.map((t) => [t.table.ptr, t.tiles, src.ptr, dst?.ptr ?? 0, acc?.ptr ?? 0, d]),
    );
  }

  /**
   * Adds dLoss/dF of the mean BPR loss over triples t0..t1 to grad, where F = embScale * emb;
   * returns the summed loss. Runs on the calling thread: the scatter into grad would race.
   */
  bprGrad(t: Triples, t0: number, t1: number, emb: Block<"f32">, embScale: number, grad: Block<"f32">, d: number, batchSize: number): number {
    return this.engine.k.bprGrad(t.users.ptr, t.pos.ptr, t.neg.ptr, t0, t1, emb.ptr, embScale, grad.ptr, d, 1 / batchSize);
  }

  /** grad[row] += coef * param[row] for every row of the triples; returns the sum of squared norms. */
  l2Grad(t: Triples, t0: number, t1: number, param: Block<"f32">, grad: Block<"f32">, d: number, coef: number): number {
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

/** Buffers of one NGCF layer, all [rows x d] except the d x d weights and d biases. */
export interface NgcfLayerBuffers {
  x: Block<"f32">;
  s: Block<"f32">;
  z: Block<"f32">;
  h: Block<"f32">;
  mask: Block<"f32"> | null;
  w1: Block<"f32">;
  w2: Block<"f32">;
  b1: Block<"f32">;
  b2: Block<"f32">;
}

/** NGCF's dense per-row work, split across the pool's threads by rows. */
export class NgcfOps {
  private readonly scratch: Block<"f32">[];
  private readonly partials: { w1: Block<"f32">; w2: Block<"f32">; b: Block<"f32"> }[];

  constructor(
    private readonly ops: GraphOps,
    private readonly rows: number,
    private readonly d: number,
    readonly slope: number,
  ) {
    const e = ops.engine;
    this.scratch = Array.from({ length: ops.threads }, () => e.alloc("f32", 2 * d));
    this.partials = Array.from({ length: ops.threads }, () => ({ w1: e.alloc("f32", d * d), w2: e.alloc("f32", d * d), b: e.alloc("f32", d) }));
  }

  private ranges(): [number, number][] {
    return evenRanges(this.rows, this.ops.threads, 1);
  }

  /** Writes Z, H and the normalized output O (at column `outOffset` of out, row stride outStride). */
  forward(l: NgcfLayerBuffers, out: Block<"f32">, outStride: number, outOffset: number): void {
    const { d, slope } = this;
    this.ops.pool.run(
      "ngcfForward",
      this.ranges().map(([r0, r1], t) => [
        l.x.ptr,
        l.s.ptr,
        l.w1.ptr,
        l.w2.ptr,
        l.b1.ptr,
        l.b2.ptr,
        l.mask?.ptr ?? 0,
        l.z.ptr,
        l.h.ptr,
        out.ptr + outOffset * 4,
        outStride,
        r0,
        r1,
        d,
        slope,
        this.scratch[t].ptr,
      ]),
    );
  }

  /** dZ, U and the direct part of dX from dO (slice of dOut) and dY (gradient of H, or null). */
  backward(
    l: NgcfLayerBuffers,
    dOut: Block<"f32">,
    outStride: number,
    outOffset: number,
    dY: Block<"f32"> | null,
    w1t: Block<"f32">,
    w2t: Block<"f32">,
    dz: Block<"f32">,
    u: Block<"f32">,
    dx: Block<"f32">,
  ): void {
    const { d, slope } = this;
    this.ops.pool.run(
      "ngcfBackward",
      this.ranges().map(([r0, r1], t) => [
        l.x.ptr,
        l.s.ptr,
        l.z.ptr,
        l.h.ptr,
        l.mask?.ptr ?? 0,
        dOut.ptr + outOffset * 4,
        outStride,
        dY?.ptr ?? 0,
        w1t.ptr,
        w2t.ptr,
        dz.ptr,
        u.ptr,
        dx.ptr,
        r0,
        r1,
        d,
        slope,
        this.scratch[t].ptr,
      ]),
    );
  }

  /** gw1 = P^T dZ, gw2 = Q^T dZ, gb = column sums of dZ (overwritten). */
  weightGrad(l: NgcfLayerBuffers, dz: Block<"f32">, gw1: Block<"f32">, gw2: Block<"f32">, gb: Block<"f32">): void {
    for (const p of this.partials) {
      p.w1.view().fill(0);
      p.w2.view().fill(0);
      p.b.view().fill(0);
    }
    this.ops.pool.run(
      "ngcfWeightGrad",
      this.ranges().map(([r0, r1], t) => [l.x.ptr, l.s.ptr, dz.ptr, this.partials[t].w1.ptr, this.partials[t].w2.ptr, this.partials[t].b.ptr, r0, r1, this.d]),
    );
    for (const [target, key] of [
      [gw1, "w1"],
      [gw2, "w2"],
      [gb, "b"],
    ] as const) {
      const out = target.view();
      out.set(this.partials[0][key].view());
      for (let t = 1; t < this.partials.length; t++) {
        const part = this.partials[t][key].view();
        for (let i = 0; i < out.length; i++) out[i] += part[i];
      }
    }
  }

  dropoutMask(mask: Block<"f32">, p: number, seed: number): void {
    this.ops.pool.run(
      "dropoutMask",
      evenRanges(mask.length, this.ops.threads).map(([i0, i1]) => [mask.ptr, i0, i1, p, seed >>> 0]),
    );
  }

  /** dst (+)= columns srcOffset..srcOffset+width of src (row strides in floats). */
  copyColumns(src: Block<"f32">, srcStride: number, srcOffset: number, dst: Block<"f32">, dstStride: number, width: number, accumulate: boolean): void {
    this.ops.pool.run(
      "copyColumns",
      this.ranges().map(([r0, r1]) => [src.ptr, srcStride, srcOffset, dst.ptr, dstStride, r0, r1, width, accumulate ? 1 : 0]),
    );
  }
}
