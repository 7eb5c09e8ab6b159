import { describe, expect, it } from "vitest";
import { WasmBackend } from "../src/engine/wasm/backend.ts";
import { engine } from "../src/engine/wasm/kernels.ts";
import { columnBlocks, planPropagation } from "../src/engine/wasm/propagation-plan.ts";
import { normalizedAdjacency } from "../src/models/graph/adjacency.ts";
import { NgcfCore } from "../src/models/graph/ngcf-core.ts";
import { initEmbeddings } from "../src/models/embedding-model.ts";
import type { Csr } from "../src/protocol/csr.ts";
import { Rng } from "../src/util/rng.ts";
import { graphPools, randomTrain } from "./graph-helpers.ts";

const pools = graphPools();

type Params64 = Float64Array[];

/** float64 reference of NGCF's batch loss; params = [E0, (W1, W2, b1, b2) per layer]. */
function referenceLoss(
  params: Params64,
  masks: Float32Array[],
  train: Csr,
  d: number,
  layers: number,
  reg: number,
  t: { u: number[]; p: number[]; n: number[] },
): number {
  const a = normalizedAdjacency(train);
  const nodes = a.rows;
  let x = params[0];
  const outs: Float64Array[] = [x];
  for (let l = 0; l < layers; l++) {
    const [w1, w2, b1, b2] = params.slice(1 + 4 * l, 5 + 4 * l);
    const s = new Float64Array(nodes * d);
    for (let r = 0; r < nodes; r++)
      for (let p = a.indptr[r]; p < a.indptr[r + 1]; p++) for (let c = 0; c < d; c++) s[r * d + c] += a.values[p] * x[a.indices[p] * d + c];
    const h = new Float64Array(nodes * d);
    const o = new Float64Array(nodes * d);
    for (let r = 0; r < nodes; r++) {
      let norm = 0;
      for (let j = 0; j < d; j++) {
        let z = b1[j] + b2[j];
        for (let p = 0; p < d; p++) {
          const xi = x[r * d + p],
            si = s[r * d + p];
          z += (xi + si) * w1[p * d + j] + xi * si * w2[p * d + j];
        }
        let hv = z > 0 ? z : 0.2 * z;
        if (masks.length) hv *= masks[l][r * d + j];
        h[r * d + j] = hv;
        norm += hv * hv;
      }
      for (let j = 0; j < d; j++) o[r * d + j] = norm > 0 ? h[r * d + j] / Math.sqrt(norm) : 0;
    }
    outs.push(o);
    x = h;
  }
  const dot = (i: number, j: number): number =>
    outs.reduce((acc, m) => {
      let s2 = 0;
      for (let c = 0; c < d; c++) s2 += m[i * d + c] * m[j * d + c];
      return acc + s2;
    }, 0);
  let loss = 0,
    sq = 0;
  const B = t.u.length;
  for (let k = 0; k < B; k++) {
    loss += Math.log1p(Math.exp(-(dot(t.u[k], t.p[k]) - dot(t.u[k], t.n[k]))));
    for (const row of [t.u[k], t.p[k], t.n[k]]) for (let c = 0; c < d; c++) sq += params[0][row * d + c] ** 2;
  }
  return loss / B + (reg * sq) / (2 * B);
}

describe("NGCF gradient (finite differences in float64)", () => {
  for (const [layers, dropout] of [
    [1, 0],
    [2, 0],
    [2, 0.3],
    [3, 0.1],
  ] as const) {
    for (const o of pools) {
      it(`analytic gradient of every parameter matches: ${layers} layer(s), dropout ${dropout}, ${o.threads} thread(s)`, async () => {
        const e = engine();
        await e.scopedAsync(async () => {
          const users = 5,
            items = 6,
            d = 3,
            reg = 0.05;
          const train = randomTrain(users, items, 3, 9);
          const backend = new WasmBackend(e, o.threads);
          const plan = planPropagation(e, normalizedAdjacency(train), o.threads, columnBlocks([users, items], 4));
          const core = new NgcfCore(
            backend,
            plan,
            users,
            items,
            { dim: d, layers, reg, dropout, slope: 0.2, seed: 3 },
            initEmbeddings(new Rng(2), users, items, d, "normal", 0.5),
          );
          // non-zero biases so their gradient path is exercised
          core.params.forEach((p, i) => {
            if (i > 0 && p.length === d) backend.write(p, Float32Array.from([0.1, -0.2, 0.05]));
          });
          const t = { u: [0, 2, 4, 1], p: [5, 7, 10, 6], n: [8, 9, 5, 10] };
          const triples = backend.triples(4);
          backend.setTriples(triples, Int32Array.from(t.u), Int32Array.from(t.p), Int32Array.from(t.n), 4);
          await backend.takeLosses();
          core.lossAndGrad(triples);
          const sums = core.losses(await backend.takeLosses());
          const [bpr, regLoss] = [sums.bpr / 4, sums.reg / 4];
          const masks = await core.lastMasks();
          if (dropout > 0) expect(masks.some((m) => m.some((v) => v === 0))).toBe(true);
          const params = await Promise.all(core.params.map(async (p) => Float64Array.from(await backend.download(p))));
          const grads = await Promise.all(core.grads.map((g) => backend.download(g)));
          expect(bpr + regLoss).toBeCloseTo(referenceLoss(params, masks, train, d, layers, reg, t), 5);
          const h = 1e-6;
          let num = 0,
            den = 0;
          params.forEach((p, k) => {
            const analytic = grads[k];
            for (let i = 0; i < p.length; i++) {
              const keep = p[i];
              p[i] = keep + h;
              const up = referenceLoss(params, masks, train, d, layers, reg, t);
              p[i] = keep - h;
              const down = referenceLoss(params, masks, train, d, layers, reg, t);
              p[i] = keep;
              const fd = (up - down) / (2 * h);
              num += (analytic[i] * core.gradScales[k] - fd) ** 2;
              den += fd ** 2;
            }
          });
          expect(Math.sqrt(num / den)).toBeLessThan(1e-4);
        });
      });
    }
  }
});
