// The LightGCN finite-difference gradient check, shared by the CPU and GPU backend tests: one
// batch's loss and analytic gradient from the backend, against central differences of a float64
// reference of the same loss.
import type { GraphBackend } from "../src/engine/backend.ts";
import { normalizedAdjacency } from "../src/models/graph/adjacency.ts";
import { LightGcnCore } from "../src/models/graph/lightgcn-core.ts";
import { initEmbeddings } from "../src/models/embedding-model.ts";
import type { Csr } from "../src/protocol/csr.ts";
import { Rng } from "../src/util/rng.ts";
import { randomTrain } from "./graph-helpers.ts";

/** f64 reference of the LightGCN batch loss (BPR mean + L2 on the batch's ego rows). */
function referenceLoss(e0: Float64Array, train: Csr, layers: number, d: number, reg: number, t: { u: number[]; p: number[]; n: number[] }): number {
  const a = normalizedAdjacency(train);
  const nodes = a.rows;
  let cur = Float64Array.from(e0);
  const sum = Float64Array.from(e0);
  for (let l = 0; l < layers; l++) {
    const next = new Float64Array(nodes * d);
    for (let r = 0; r < nodes; r++)
      for (let p = a.indptr[r]; p < a.indptr[r + 1]; p++) for (let c = 0; c < d; c++) next[r * d + c] += a.values[p] * cur[a.indices[p] * d + c];
    for (let i = 0; i < sum.length; i++) sum[i] += next[i];
    cur = next;
  }
  const f = sum.map((x) => x / (layers + 1));
  let loss = 0;
  let sq = 0;
  const B = t.u.length;
  for (let k = 0; k < B; k++) {
    let x = 0;
    for (let c = 0; c < d; c++) x += f[t.u[k] * d + c] * (f[t.p[k] * d + c] - f[t.n[k] * d + c]);
    loss += Math.log1p(Math.exp(-x));
    for (const row of [t.u[k], t.p[k], t.n[k]]) for (let c = 0; c < d; c++) sq += e0[row * d + c] ** 2;
  }
  return loss / B + (reg * sq) / (2 * B);
}

export interface GradientCheck {
  loss: number;
  referenceLoss: number;
  /** ||analytic - finite differences|| / ||finite differences|| over every ego value. */
  relativeError: number;
}

export async function lightGcnGradientCheck(backend: GraphBackend, layers: number): Promise<GradientCheck> {
  const close = backend.openScope();
  try {
    const users = 6,
      items = 7,
      d = 5,
      reg = 0.05;
    const train = randomTrain(users, items, 3, 5);
    const init = initEmbeddings(new Rng(4), users, items, d, "normal", 0.5);
    const plan = layers > 0 ? backend.propagation(normalizedAdjacency(train), d, [users, items]) : null;
    const core = new LightGcnCore(backend, plan, users, items, d, layers, reg, init);
    const t = { u: [0, 3, 5, 0], p: [6, 8, 12, 7], n: [9, 10, 6, 12] };
    const triples = backend.triples(4);
    backend.setTriples(triples, Int32Array.from(t.u), Int32Array.from(t.p), Int32Array.from(t.n), 4);
    await backend.takeLosses();
    core.lossAndGrad(triples);
    const { bpr, reg: regLoss } = core.losses(await backend.takeLosses());
    const e0 = Float64Array.from(await backend.download(core.params[0]));
    const analytic = Array.from(await backend.download(core.grads[0]), (g) => g * core.gradScales[0]);
    const h = 1e-6;
    let num = 0,
      den = 0;
    for (let i = 0; i < e0.length; i++) {
      const plus = Float64Array.from(e0);
      plus[i] += h;
      const minus = Float64Array.from(e0);
      minus[i] -= h;
      const fd = (referenceLoss(plus, train, layers, d, reg, t) - referenceLoss(minus, train, layers, d, reg, t)) / (2 * h);
      num += (analytic[i] - fd) ** 2;
      den += fd ** 2;
    }
    return { loss: (bpr + regLoss) / 4, referenceLoss: referenceLoss(e0, train, layers, d, reg, t), relativeError: Math.sqrt(num / den) };
  } finally {
    close();
  }
}
