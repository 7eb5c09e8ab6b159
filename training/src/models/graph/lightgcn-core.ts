// LightGCN (He et al., SIGIR 2020): ego embeddings E0 for users and items, L propagations
// E_{l+1} = A_hat E_l over the normalized train graph, final embedding F = mean(E_0..E_L),
// score = F_u . F_i. BPR with one negative per positive, L2 on the batch's ego embeddings.
// Layers = 0 is BPR-MF. The backward pass is exact: A_hat is symmetric, so
// dLoss/dE0 = 1/(L+1) * sum_l A_hat^l G with G = dLoss/dF, plus the L2 term.
import type { GraphBackend, LossSums, Propagation, Tensor, Triples } from "../../engine/backend.ts";
import type { Csr } from "../../protocol/csr.ts";
import type { PropagatedFoldIn } from "../foldin.ts";
import type { TrainableCore } from "./core.ts";

export class LightGcnCore implements TrainableCore {
  readonly params: Tensor[];
  readonly grads: Tensor[];
  readonly gradScales: number[];
  readonly outDim: number;
  private readonly nodes: number;
  private readonly scale: number;
  private readonly e0: Tensor;
  private readonly acc: Tensor;
  private readonly bufA: Tensor;
  private readonly bufB: Tensor;
  private readonly grad: Tensor;
  private readonly gradAcc: Tensor;
  /** E_0..E_L and the final embeddings on the host, once `snapshot` has run. */
  private host: { layers: Float32Array[]; final: Float32Array } | null = null;

  constructor(
    private readonly backend: GraphBackend,
    private readonly adj: Propagation | null,
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
    this.e0 = backend.upload(init);
    this.acc = backend.zeros("f32", size);
    this.bufA = backend.zeros("f32", layers > 1 ? size : 0);
    this.bufB = backend.zeros("f32", layers > 2 ? size : 0);
    this.grad = backend.zeros("f32", size);
    this.gradAcc = backend.zeros("f32", size);
    this.scale = 1 / (layers + 1);
    this.params = [this.e0];
    this.grads = [this.gradAcc];
    this.gradScales = [this.scale];
    this.outDim = dim;
  }

  /** out = sum_{l=0..L} A_hat^l x (unscaled), using the two scratch buffers. */
  private propagateSum(x: Tensor, out: Tensor): void {
    this.backend.copy(x, out);
    let src = x;
    for (let l = 1; l <= this.layers; l++) {
      const last = l === this.layers;
      const dst = last ? null : l % 2 === 1 ? this.bufA : this.bufB;
      this.backend.propagate(this.adj!, src, dst, out, this.dim);
      if (dst) src = dst;
    }
  }

  lossAndGrad(t: Triples): void {
    const b = this.backend;
    this.propagateSum(this.e0, this.acc);
    b.fill(this.grad, 0);
    b.bprGrad(t, this.acc, this.scale, this.grad, this.dim);
    this.propagateSum(this.grad, this.gradAcc);
    // Adam multiplies the whole buffer by `scale`; pre-divide the L2 term to compensate.
    b.l2Grad(t, this.e0, this.gradAcc, this.dim, this.reg / t.count / this.scale);
  }

  losses(sums: LossSums): { bpr: number; reg: number } {
    return { bpr: sums.bpr, reg: (this.reg * sums.squaredNorms) / 2 };
  }

  finalEmbeddings(): Tensor {
    this.propagateSum(this.e0, this.acc);
    this.backend.scale(this.acc, this.scale);
    return this.acc;
  }

  async snapshot(): Promise<void> {
    const b = this.backend;
    const layers = [await b.download(this.e0)];
    const close = b.openScope();
    try {
      let src = this.e0;
      for (let l = 1; l <= this.layers; l++) {
        const dst = b.zeros("f32", this.nodes * this.dim);
        b.propagate(this.adj!, src, dst, null, this.dim);
        layers.push(await b.download(dst));
        src = dst;
      }
    } finally {
      close();
    }
    this.host = { layers, final: await b.download(this.finalEmbeddings()) };
  }

  /**
   * Fold-in for a user outside the graph (see foldin.ts). A user u with history H gets
   * a_l = sum_{i in H} E_{l-1}[i] / sqrt(|H| deg(i)) for l = 1..L, exactly as LightGCN
   * propagates to a user, with item degrees from train. The user's own layer-0 (ego) vector was
   * never trained, and it is the open question:
   * - egoWeight a number: ego = egoWeight * a_1;
   * - egoWeight "fit": ego = sum_l a_l W_l, with W the ridge regression of the trained users' ego
   *   vectors on their own a_1..a_L (the model's map from what a user rated to who they are).
   * The final vector is the layer mean, as in training. Everything is linear in the history, so
   * each history item's part folds into one row of `contributions`, times |H|^-1/2.
   */
  foldIn(train: Csr, egoWeight: number | "fit"): PropagatedFoldIn {
    const { users, items, dim: d, layers } = this;
    const degree = new Float64Array(items);
    for (let p = 0; p < train.indptr[train.rows]; p++) degree[train.indices[p]]++;
    if (egoWeight === "fit" && layers === 0) throw new Error("foldin_ego=fit needs at least one layer");
    if (!this.host) throw new Error("LightGCN: foldIn() before snapshot()");
    const layerTables = this.host.layers;
    // T_l[i] = E_l[item i] / sqrt(deg i): what item i sends to a user at layer l + 1
    const sent = (l: number): Float64Array => {
      const t = new Float64Array(items * d);
      for (let i = 0; i < items; i++) {
        if (degree[i] === 0) continue; // an item no train user has: it propagates nothing
        const w = 1 / Math.sqrt(degree[i]);
        for (let c = 0; c < d; c++) t[i * d + c] = w * layerTables[l][(users + i) * d + c];
      }
      return t;
    };
    const contributions = new Float64Array(items * d);
    const add = (t: Float64Array, weight = 1): void => {
      for (let k = 0; k < t.length; k++) contributions[k] += weight * t[k];
    };
    const sentBy = Array.from({ length: Math.max(layers, 1) }, (_, l) => sent(l));
    for (let l = 0; l < layers; l++) add(sentBy[l]);
    if (egoWeight === "fit") {
      const w = this.fitEgoMap(layerTables, train);
      for (let l = 0; l < layers; l++) add(multiply(sentBy[l], w[l], items, d));
    } else {
      add(sentBy[0], egoWeight);
    }
    const scale = 1 / (layers + 1);
    const final = this.host.final;
    return {
      kind: "propagated",
      items,
      dim: d,
      contributions: Float32Array.from(contributions, (v) => v * scale),
      candidates: final.slice(users * d, (users + items) * d),
    };
  }

  /** Ridge regression of the trained users' ego rows on their layer 1..L rows: one d x d block per layer. */
  private fitEgoMap(layerTables: Float32Array[], train: Csr): Float64Array[] {
    const { users, dim: d, layers } = this;
    const f = layers * d;
    const xtx = new Float64Array(f * f);
    const xty = new Float64Array(f * d);
    const x = new Float64Array(f);
    for (let u = 0; u < users; u++) {
      if (train.indptr[u + 1] === train.indptr[u]) continue; // a user without train rows has no features
      for (let l = 0; l < layers; l++) for (let c = 0; c < d; c++) x[l * d + c] = layerTables[l + 1][u * d + c];
      for (let a = 0; a < f; a++) {
        const xa = x[a];
        for (let b = 0; b < f; b++) xtx[a * f + b] += xa * x[b];
        for (let c = 0; c < d; c++) xty[a * d + c] += xa * layerTables[0][u * d + c];
      }
    }
    // a small ridge, relative to the features' scale, keeps the solve well posed
    let trace = 0;
    for (let a = 0; a < f; a++) trace += xtx[a * f + a];
    for (let a = 0; a < f; a++) xtx[a * f + a] += (1e-3 * trace) / f;
    const w = solveSpd(xtx, xty, f, d);
    return Array.from({ length: layers }, (_, l) => w.slice(l * d * d, (l + 1) * d * d));
  }
}

/** rows [n x d] times m [d x d]. */
function multiply(rows: Float64Array, m: Float64Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n * d);
  for (let r = 0; r < n; r++) {
    for (let a = 0; a < d; a++) {
      const v = rows[r * d + a];
      if (v === 0) continue;
      for (let c = 0; c < d; c++) out[r * d + c] += v * m[a * d + c];
    }
  }
  return out;
}

/** Solves A X = B for SPD A [n x n] and B [n x m] by Cholesky (float64; A and B are copied). */
function solveSpd(aIn: Float64Array, bIn: Float64Array, n: number, m: number): Float64Array {
  const a = Float64Array.from(aIn);
  const b = Float64Array.from(bIn);
  for (let j = 0; j < n; j++) {
    let s = a[j * n + j];
    for (let k = 0; k < j; k++) s -= a[j * n + k] ** 2;
    if (!(s > 0)) throw new Error("ego map: the normal equations are not positive definite");
    a[j * n + j] = Math.sqrt(s);
    for (let i = j + 1; i < n; i++) {
      let t = a[i * n + j];
      for (let k = 0; k < j; k++) t -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = t / a[j * n + j];
    }
  }
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < n; i++) {
      let s = b[i * m + c];
      for (let k = 0; k < i; k++) s -= a[i * n + k] * b[k * m + c];
      b[i * m + c] = s / a[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = b[i * m + c];
      for (let k = i + 1; k < n; k++) s -= a[k * n + i] * b[k * m + c];
      b[i * m + c] = s / a[i * n + i];
    }
  }
  return b;
}
