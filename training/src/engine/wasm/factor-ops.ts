// Typed API over the matrix-factorization kernels (implicit ALS, biased-MF SGD).
import type { BiasedFactorTensors, RatingTensors, Tensor, TensorKind } from "../backend.ts";
import type { Block, CsrBlock, Engine } from "./kernels.ts";
import { type KernelPool, balancedRowRanges } from "./pool.ts";

/** The same tensors as kernel blocks. */
type InKernelMemory<T> = { [K in keyof T]: T[K] extends Tensor<infer E extends TensorKind> ? Block<E> : never };

export class FactorOps {
  private readonly scratch: Block<"f64">[];
  private readonly yty: Block<"f64">;

  constructor(
    private readonly engine: Engine,
    private readonly pool: KernelPool,
    private readonly d: number,
  ) {
    this.scratch = Array.from({ length: pool.threads }, () => engine.alloc("f64", d * d + d));
    this.yty = engine.alloc("f64", d * d);
  }

  /** Solves every row of `x` given the fixed factors `y` (one ALS half-sweep), rows split across threads. */
  alsHalfSweep(m: CsrBlock, y: Block<"f32">, x: Block<"f32">, alpha: number, lambda: number): void {
    const { d } = this;
    const yty = this.yty;
    const yv = y.view();
    const g = yty.view();
    g.fill(0);
    for (let r = 0; r < m.cols; r++) {
      for (let a = 0; a < d; a++) {
        const va = yv[r * d + a];
        if (va === 0) continue;
        for (let b = 0; b <= a; b++) g[a * d + b] += va * yv[r * d + b];
      }
    }
    this.pool.run(
      "alsRows",
      balancedRowRanges(m.indptr.view(), m.rows, this.pool.threads).map(([r0, r1], t) => [
        m.indptr.ptr,
        m.indices.ptr,
        r0,
        r1,
        y.ptr,
        yty.ptr,
        x.ptr,
        d,
        alpha,
        lambda,
        this.scratch[t].ptr,
      ]),
    );
  }

  /** One Surprise-style SGD epoch over the ratings in `order`; returns the summed squared error. */
  sgdEpoch(t: InKernelMemory<RatingTensors>, f: InKernelMemory<BiasedFactorTensors>, mu: number, lr: number, reg: number): number {
    return this.engine.k.sgdBiasedMf(
      t.users.ptr,
      t.items.ptr,
      t.values.ptr,
      t.order.ptr,
      t.order.length,
      f.p.ptr,
      f.q.ptr,
      f.bu.ptr,
      f.bi.ptr,
      this.d,
      mu,
      lr,
      reg,
    );
  }
}
