// LightGCN (He et al., SIGIR 2020): ego embeddings E0 for users and items, L propagations
// E_{l+1} = A_hat E_l over the normalized train graph, final embedding F = mean(E_0..E_L),
// score = F_u . F_i. BPR with one negative per positive, L2 on the batch's ego embeddings.
// Layers = 0 is BPR-MF. The backward pass is exact: A_hat is symmetric, so
// dLoss/dE0 = 1/(L+1) * sum_l A_hat^l G with G = dLoss/dF, plus the L2 term.
import type { Block, Engine } from "../../engine/kernels.ts";
import type { GraphOps, Triples } from "../../engine/graph-ops.ts";
import type { PropagationPlan } from "../../engine/propagation-plan.ts";
import type { TrainableCore } from "./core.ts";

export class LightGcnCore implements TrainableCore {
  readonly params: Block<"f32">[];
  readonly grads: Block<"f32">[];
  readonly gradScales: number[];
  readonly outDim: number;
  private readonly nodes: number;
  private readonly scale: number;
  private readonly e0: Block<"f32">;
  private readonly acc: Block<"f32">;
  private readonly bufA: Block<"f32">;
  private readonly bufB: Block<"f32">;
  private readonly grad: Block<"f32">;
  private readonly gradAcc: Block<"f32">;

  constructor(
    private readonly ops: GraphOps,
    engine: Engine,
    private readonly adj: PropagationPlan | null,
    readonly users: number,
    readonly items: number,
    private readonly dim: number,
    private readonly layers: number,
    private readonly reg: number,
    init: Float32Array,
  ) {
    this.nodes = users + items;
    if (layers > 0 && (!adj || adj.rows !== this.nodes)) throw new Error("LightGCN needs the normalized adjacency of users + items");
    if (init.length !== this.nodes * dim) throw new RangeError(`init holds ${init.length} values, expected ${this.nodes * dim}`);
    const size = this.nodes * dim;
    this.e0 = engine.from("f32", init);
    this.acc = engine.alloc("f32", size);
    this.bufA = engine.alloc("f32", layers > 1 ? size : 0);
    this.bufB = engine.alloc("f32", layers > 2 ? size : 0);
    this.grad = engine.alloc("f32", size);
    this.gradAcc = engine.alloc("f32", size);
    this.scale = 1 / (layers + 1);
    this.params = [this.e0];
    this.grads = [this.gradAcc];
    this.gradScales = [this.scale];
    this.outDim = dim;
  }

  /** out = sum_{l=0..L} A_hat^l x (unscaled), using the two scratch buffers. */
  private propagateSum(x: Block<"f32">, out: Block<"f32">): void {
    out.view().set(x.view());
    let src = x;
    for (let l = 1; l <= this.layers; l++) {
      const last = l === this.layers;
      const dst = last ? null : l % 2 === 1 ? this.bufA : this.bufB;
      this.ops.propagate(this.adj!, src, dst, out, this.dim);
      if (dst) src = dst;
    }
  }

  lossAndGrad(t: Triples, count: number): { bpr: number; reg: number } {
    this.propagateSum(this.e0, this.acc);
    this.grad.view().fill(0);
    const bpr = this.ops.bprGrad(t, 0, count, this.acc, this.scale, this.grad, this.dim, count) / count;
    this.propagateSum(this.grad, this.gradAcc);
    // Adam multiplies the whole buffer by `scale`; pre-divide the L2 term to compensate.
    const sq = this.ops.l2Grad(t, 0, count, this.e0, this.gradAcc, this.dim, this.reg / count / this.scale);
    return { bpr, reg: (this.reg * sq) / (2 * count) };
  }

  finalEmbeddings(): Block<"f32"> {
    this.propagateSum(this.e0, this.acc);
    const f = this.acc.view();
    for (let i = 0; i < f.length; i++) f[i] *= this.scale;
    return this.acc;
  }
}
