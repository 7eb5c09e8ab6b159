// NGCF (Wang et al., "Neural Graph Collaborative Filtering", SIGIR 2019), as in the authors'
// code: per layer, with S = A_hat X (normalized train graph),
//   Z = (X + S) W1 + (S * X) W2 + b1 + b2,  H = LeakyReLU(Z, 0.2) with message dropout,
// H feeds the next layer and its row-normalized copy is the layer's output; the final
// embedding concatenates E0 and every layer's output. BPR with L2 on the batch's ego rows.
// The backward pass is exact (checked against finite differences in the tests).
import type { GraphBackend, LossSums, NgcfKernels, NgcfLayerTensors, Propagation, Tensor, Triples } from "../../engine/backend.ts";
import { Rng } from "../../util/rng.ts";
import type { TrainableCore } from "./core.ts";

export interface NgcfSettings {
  dim: number;
  layers: number;
  reg: number;
  /** Message dropout probability (training only). */
  dropout: number;
  slope: number;
  seed: number;
}

export class NgcfCore implements TrainableCore {
  readonly params: Tensor[];
  readonly grads: Tensor[];
  readonly gradScales: number[];
  readonly outDim: number;
  private readonly nodes: number;
  private readonly dim: number;
  private readonly e0: Tensor;
  private readonly gE0: Tensor;
  private readonly layerBufs: NgcfLayerTensors[];
  private readonly layerGrads: { w1: Tensor; w2: Tensor; b1: Tensor; b2: Tensor }[];
  private readonly masks: Tensor[];
  private readonly out: Tensor;
  private readonly dOut: Tensor;
  private readonly dz: Tensor;
  private readonly u: Tensor;
  private readonly dx: Tensor[];
  private readonly w1t: Tensor;
  private readonly w2t: Tensor;
  private readonly nops: NgcfKernels;
  private step = 0;

  constructor(
    private readonly backend: GraphBackend,
    private readonly plan: Propagation,
    readonly users: number,
    readonly items: number,
    private readonly s: NgcfSettings,
    init: Float32Array,
  ) {
    const d = s.dim;
    // NGCF's layer kernels first: a backend without them fails before any allocation
    this.nops = backend.ngcfKernels(users + items, d, s.slope);
    this.dim = d;
    this.nodes = users + items;
    const size = this.nodes * d;
    if (init.length !== size) throw new RangeError(`init holds ${init.length} values, expected ${size}`);
    if (!(s.dropout >= 0 && s.dropout < 1)) throw new RangeError(`dropout must be in [0, 1), got ${s.dropout}`);
    this.outDim = d * (s.layers + 1);
    this.e0 = backend.upload(init);
    this.gE0 = backend.zeros("f32", size);
    // Xavier-normal weights and zero biases, as RecBole initialises NGCF's linear layers.
    const rng = new Rng(s.seed ^ 0x2545f491);
    const std = Math.sqrt(2 / (d + d));
    const weight = (): Tensor => backend.upload(Float32Array.from({ length: d * d }, () => rng.normal() * std));
    this.layerBufs = [];
    this.masks = [];
    let x = this.e0;
    for (let l = 0; l < s.layers; l++) {
      const h = backend.zeros("f32", size);
      const mask = s.dropout > 0 ? backend.zeros("f32", size) : null;
      if (mask) this.masks.push(mask);
      this.layerBufs.push({
        x,
        s: backend.zeros("f32", size),
        z: backend.zeros("f32", size),
        h,
        mask,
        w1: weight(),
        w2: weight(),
        b1: backend.zeros("f32", d),
        b2: backend.zeros("f32", d),
      });
      x = h;
    }
    this.layerGrads = this.layerBufs.map(() => ({
      w1: backend.zeros("f32", d * d),
      w2: backend.zeros("f32", d * d),
      b1: backend.zeros("f32", d),
      b2: backend.zeros("f32", d),
    }));
    this.out = backend.zeros("f32", this.nodes * this.outDim);
    this.dOut = backend.zeros("f32", this.nodes * this.outDim);
    this.dz = backend.zeros("f32", size);
    this.u = backend.zeros("f32", size);
    this.dx = this.layerBufs.map(() => backend.zeros("f32", size));
    this.w1t = backend.zeros("f32", d * d);
    this.w2t = backend.zeros("f32", d * d);
    this.params = [this.e0, ...this.layerBufs.flatMap((b) => [b.w1, b.w2, b.b1, b.b2])];
    this.grads = [this.gE0, ...this.layerGrads.flatMap((g) => [g.w1, g.w2, g.b1, g.b2])];
    this.gradScales = this.params.map(() => 1);
  }

  /** The dropout masks of the last training step (for the gradient check). */
  lastMasks(): Promise<Float32Array[]> {
    return Promise.all(this.masks.map((m) => this.backend.download(m)));
  }

  private forward(training: boolean): void {
    const { dim: d, outDim } = this;
    this.nops.copyColumns(this.e0, d, 0, this.out, outDim, d, false);
    this.layerBufs.forEach((l, i) => {
      this.backend.propagate(this.plan, l.x, l.s, null, d);
      const withMask = training && l.mask !== null;
      if (withMask) this.nops.dropoutMask(l.mask!, this.s.dropout, mix(this.s.seed, this.step, i));
      this.nops.forward({ ...l, mask: withMask ? l.mask : null }, this.out, outDim, (i + 1) * d);
    });
  }

  lossAndGrad(t: Triples): void {
    const { dim: d, outDim } = this;
    this.step++;
    this.forward(true);
    this.backend.fill(this.dOut, 0);
    this.backend.bprGrad(t, this.out, 1, this.dOut, outDim);
    let dY: Tensor | null = null;
    for (let i = this.layerBufs.length - 1; i >= 0; i--) {
      const l = this.layerBufs[i];
      const g = this.layerGrads[i];
      this.nops.transpose(l.w1, this.w1t, d);
      this.nops.transpose(l.w2, this.w2t, d);
      const dx = i === 0 ? this.gE0 : this.dx[i];
      this.nops.backward(l, this.dOut, outDim, (i + 1) * d, dY, this.w1t, this.w2t, this.dz, this.u, dx);
      this.backend.propagate(this.plan, this.u, null, dx, d);
      this.nops.weightGrad(l, this.dz, g.w1, g.w2, g.b1);
      this.backend.copy(g.b1, g.b2);
      dY = dx;
    }
    // E0 reaches the loss directly (the first slice of the output) and through layer 1.
    this.nops.copyColumns(this.dOut, outDim, 0, this.gE0, d, d, this.layerBufs.length > 0);
    this.backend.l2Grad(t, this.e0, this.gE0, d, this.s.reg / t.count);
  }

  losses(sums: LossSums): { bpr: number; reg: number } {
    return { bpr: sums.bpr, reg: (this.s.reg * sums.squaredNorms) / 2 };
  }

  finalEmbeddings(): Tensor {
    this.forward(false);
    return this.out;
  }
}

/** A 32-bit seed per (run, step, layer) for the dropout masks. */
function mix(seed: number, step: number, layer: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(step + 1, 0xc2b2ae35) ^ Math.imul(layer + 7, 0x27d4eb2f);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) >>> 0;
}
