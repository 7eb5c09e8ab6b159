// NGCF's dense per-row work on the WebAssembly kernels (NGCF trains on the CPU backend only):
// the layer forward and backward, the weight gradients, dropout masks and column copies, split
// across the kernel pool's threads by rows.
import type { Block } from "../../engine/wasm/kernels.ts";
import type { GraphOps } from "../../engine/wasm/graph-ops.ts";
import { evenRanges } from "../../engine/wasm/pool.ts";

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
