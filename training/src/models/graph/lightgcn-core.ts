// LightGCN (He et al., SIGIR 2020): ego embeddings E0 for users and items, L propagations
// E_{l+1} = A_hat E_l over the normalized train graph, final embedding F = mean(E_0..E_L),
// score = F_u . F_i. BPR with one negative per positive, L2 on the batch's ego embeddings.
// Layers = 0 is BPR-MF. The backward pass is exact: A_hat is symmetric, so
// dLoss/dE0 = 1/(L+1) * sum_l A_hat^l G with G = dLoss/dF, plus the L2 term.
import type { Block, Engine } from "../../engine/kernels.ts";
import type { GraphOps, Triples } from "../../engine/graph-ops.ts";
import type { PropagationPlan } from "../../engine/propagation-plan.ts";
import type { Csr } from "../../protocol/csr.ts";
import type { PropagatedFoldIn } from "../foldin.ts";
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
    private readonly engine: Engine,
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

  /**
   * Fold-in for a user outside the graph (see foldin.ts). A user u with history H gets
   * e_u^(l+1) = sum_{i in H} E_l[i] / sqrt(|H| deg(i)) for l = 0..L-1, exactly as LightGCN
   * propagates, with item degrees from train. The user's own layer-0 (ego) vector was never
   * trained; it is estimated as egoWeight * e_u^(1) (egoWeight chosen on valid). The final
   * vector is the layer mean, as in training, so every history item adds
   * ((1 + egoWeight) E_0[i] + E_1[i] + ... + E_{L-1}[i]) / ((L + 1) sqrt(deg i)), times |H|^-1/2.
   */
  foldIn(train: Csr, egoWeight: number): PropagatedFoldIn {
    const { users, items, dim: d, layers } = this;
    const degree = new Float64Array(items);
    for (let p = 0; p < train.indptr[train.rows]; p++) degree[train.indices[p]]++;
    const contributions = new Float32Array(items * d);
    const addItemRows = (layer: Float32Array, weight: number): void => {
      for (let i = 0; i < items; i++) {
        if (degree[i] === 0) continue; // an item no train user has: it propagates nothing
        const w = weight / ((layers + 1) * Math.sqrt(degree[i]));
        for (let c = 0; c < d; c++) contributions[i * d + c] += w * layer[(users + i) * d + c];
      }
    };
    if (layers === 0) {
      addItemRows(this.e0.view(), egoWeight);
    } else {
      this.engine.scoped(() => {
        let src = this.e0;
        addItemRows(src.view(), 1 + egoWeight);
        for (let l = 1; l < layers; l++) {
          const dst = this.engine.alloc("f32", this.nodes * d);
          this.ops.propagate(this.adj!, src, dst, null, d);
          addItemRows(dst.view(), 1);
          src = dst;
        }
      });
    }
    const final = this.finalEmbeddings().view();
    return { kind: "propagated", items, dim: d, contributions, candidates: final.slice(users * d, (users + items) * d) };
  }
}
