// NGCF's dense per-row work on the WebAssembly kernels (NGCF trains on the CPU backend only):
// the layer forward and backward, the weight gradients, dropout masks and column copies, split
// across the kernel pool's threads by rows. The CPU backend's NgcfKernels (see backend.ts).
import type { NgcfKernels, NgcfLayerTensors, Tensor } from "../backend.ts";
import type { GraphOps } from "./graph-ops.ts";
import { Block } from "./kernels.ts";
import { evenRanges } from "./pool.ts";

/** The CPU backend's tensors are blocks of its kernel memory. */
function block(t: Tensor): Block<"f32"> {
  if (!(t instanceof Block) || t.kind !== "f32") throw new TypeError("NGCF's CPU kernels take f32 tensors of the CPU backend");
  return t as Block<"f32">;
}

interface LayerBlocks {
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

/** A layer's tensors as blocks. */
function blocks(l: NgcfLayerTensors): LayerBlocks {
  return {
    x: block(l.x),
    s: block(l.s),
    z: block(l.z),
    h: block(l.h),
    mask: l.mask ? block(l.mask) : null,
    w1: block(l.w1),
    w2: block(l.w2),
    b1: block(l.b1),
    b2: block(l.b2),
  };
}

/** NGCF's dense per-row work, split across the pool's threads by rows. */
export class NgcfOps implements NgcfKernels {
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
  forward(layer: NgcfLayerTensors, outTensor: Tensor, outStride: number, outOffset: number): void {
    const { d, slope } = this;
    const l = blocks(layer);
    const out = block(outTensor);
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
    layer: NgcfLayerTensors,
    dOutTensor: Tensor,
    outStride: number,
    outOffset: number,
    dYTensor: Tensor | null,
    w1tTensor: Tensor,
    w2tTensor: Tensor,
    dzTensor: Tensor,
    uTensor: Tensor,
    dxTensor: Tensor,
  ): void {
    const { d, slope } = this;
    const l = blocks(layer);
    const [dOut, w1t, w2t, dz, u, dx] = [dOutTensor, w1tTensor, w2tTensor, dzTensor, uTensor, dxTensor].map(block);
    const dY = dYTensor ? block(dYTensor) : null;
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
  weightGrad(layer: NgcfLayerTensors, dzTensor: Tensor, gw1: Tensor, gw2: Tensor, gb: Tensor): void {
    const l = blocks(layer);
    const dz = block(dzTensor);
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
      const out = block(target).view();
      out.set(this.partials[0][key].view());
      for (let t = 1; t < this.partials.length; t++) {
        const part = this.partials[t][key].view();
        for (let i = 0; i < out.length; i++) out[i] += part[i];
      }
    }
  }

  dropoutMask(maskTensor: Tensor, p: number, seed: number): void {
    const mask = block(maskTensor);
    this.ops.pool.run(
      "dropoutMask",
      evenRanges(mask.length, this.ops.threads).map(([i0, i1]) => [mask.ptr, i0, i1, p, seed >>> 0]),
    );
  }

  /** dst (+)= columns srcOffset..srcOffset+width of src (row strides in floats). */
  copyColumns(srcTensor: Tensor, srcStride: number, srcOffset: number, dstTensor: Tensor, dstStride: number, width: number, accumulate: boolean): void {
    const [src, dst] = [block(srcTensor), block(dstTensor)];
    this.ops.pool.run(
      "copyColumns",
      this.ranges().map(([r0, r1]) => [src.ptr, srcStride, srcOffset, dst.ptr, dstStride, r0, r1, width, accumulate ? 1 : 0]),
    );
  }

  /** out = w^T for d x d weights (small: on the host). */
  transpose(wTensor: Tensor, outTensor: Tensor, d: number): void {
    const a = block(wTensor).view();
    const b = block(outTensor).view();
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) b[j * d + i] = a[i * d + j];
  }
}
