// The matrix-factorization kernels against plain references, and the baselines' behaviour.
import { describe, expect, it } from "vitest";
import { engine } from "../src/engine/wasm/kernels.ts";
import { FactorOps } from "../src/engine/wasm/factor-ops.ts";
import { MetricAccumulator } from "../src/eval/metrics.ts";
import { ials } from "../src/models/ials.ts";
import { puresvd } from "../src/models/puresvd.ts";
import { svd } from "../src/models/svd.ts";
import { csrFromTriples } from "../src/protocol/csr.ts";
import { Rng } from "../src/util/rng.ts";
import { graphPools, randomTrain } from "./graph-helpers.ts";

const pools = graphPools();

function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  for (let k = 0; k < n; k++) {
    for (let i = k + 1; i < n; i++) {
      const f = m[i][k] / m[k][k];
      for (let j = k; j <= n; j++) m[i][j] -= f * m[k][j];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = m[i][n];
    for (let j = i + 1; j < n; j++) s -= m[i][j] * x[j];
    x[i] = s / m[i][i];
  }
  return x;
}

describe("implicit ALS kernel", () => {
  for (const o of pools) {
    it(`solves each row's normal equations (d=5, ${o.threads} thread(s), an empty row included)`, () => {
      const e = engine();
      e.scoped(() => {
        const rng = new Rng(3);
        const d = 5,
          rows = 7,
          cols = 9,
          alpha = 3,
          lambda = 0.5;
        const m = csrFromTriples(rows, cols, [0, 0, 1, 2, 2, 2, 4, 5, 6], [1, 4, 8, 0, 3, 5, 2, 7, 1]);
        const y = Float32Array.from({ length: cols * d }, () => rng.normal());
        const x = e.alloc("f32", rows * d);
        new FactorOps(e, o.pool, d).alsHalfSweep(e.csr(m), e.from("f32", y), x, alpha, lambda);
        for (let r = 0; r < rows; r++) {
          const a = Array.from({ length: d }, (_, i) =>
            Array.from({ length: d }, (_, j) => {
              let s = i === j ? lambda : 0;
              for (let c = 0; c < cols; c++) s += y[c * d + i] * y[c * d + j];
              for (let p = m.indptr[r]; p < m.indptr[r + 1]; p++) s += alpha * y[m.indices[p] * d + i] * y[m.indices[p] * d + j];
              return s;
            }),
          );
          const b = Array.from({ length: d }, (_, i) => {
            let s = 0;
            for (let p = m.indptr[r]; p < m.indptr[r + 1]; p++) s += (1 + alpha) * y[m.indices[p] * d + i];
            return s;
          });
          const ref = solve(a, b);
          for (let i = 0; i < d; i++) expect(x.view()[r * d + i]).toBeCloseTo(ref[i], 4);
        }
      });
    });
  }
});

describe("biased-MF SGD kernel", () => {
  it("matches a plain TypeScript epoch of Surprise's update rule", () => {
    const e = engine();
    e.scoped(() => {
      const rng = new Rng(5);
      const d = 3,
        users = 4,
        items = 5,
        mu = 3.5,
        lr = 0.05,
        reg = 0.1;
      const u = [0, 1, 1, 2, 3, 3, 0],
        it = [1, 0, 4, 2, 3, 1, 4],
        r = [5, 3, 4, 2, 5, 1, 4];
      const order = [3, 0, 6, 1, 5, 2, 4];
      const p = Float32Array.from({ length: users * d }, () => rng.normal() * 0.1);
      const q = Float32Array.from({ length: items * d }, () => rng.normal() * 0.1);
      const f = { p: e.from("f32", p), q: e.from("f32", q), bu: e.alloc("f32", users), bi: e.alloc("f32", items) };
      const t = { users: e.from("i32", u), items: e.from("i32", it), values: e.from("f32", r), order: e.from("i32", order) };
      const sse = new FactorOps(e, pools[0].pool, d).sgdEpoch(t, f, mu, lr, reg);
      const [rp, rq, rbu, rbi] = [Array.from(p), Array.from(q), new Array(users).fill(0), new Array(items).fill(0)];
      let refSse = 0;
      for (const k of order) {
        const [a, b] = [u[k], it[k]];
        let dot = 0;
        for (let c = 0; c < d; c++) dot += rp[a * d + c] * rq[b * d + c];
        const err = r[k] - (mu + rbu[a] + rbi[b] + dot);
        refSse += err * err;
        rbu[a] += lr * (err - reg * rbu[a]);
        rbi[b] += lr * (err - reg * rbi[b]);
        for (let c = 0; c < d; c++) {
          const [pc, qc] = [rp[a * d + c], rq[b * d + c]];
          rp[a * d + c] = pc + lr * (err * qc - reg * pc);
          rq[b * d + c] = qc + lr * (err * pc - reg * qc);
        }
      }
      expect(sse).toBeCloseTo(refSse, 4);
      for (const [i, v] of f.p.view().entries()) expect(v).toBeCloseTo(rp[i], 5);
      for (const [i, v] of f.bi.view().entries()) expect(v).toBeCloseTo(rbi[i], 5);
    });
  });
});

describe("factor baselines", () => {
  const train = randomTrain(40, 30, 8, 7);
  const ctx = { seed: 1, log: () => {} };

  it("PureSVD at full rank reproduces the train matrix (R V V^T = R)", async () => {
    const model = puresvd.create({ ...puresvd.defaults, rank: 30, iterations: 3, threads: 1 });
    await engine().scopedAsync(async () => {
      await model.fit(train, ctx);
      const out = new Float32Array(40 * 30);
      model.score(0, 40, out);
      for (let u = 0; u < 40; u++) {
        for (let i = 0; i < 30; i++) {
          const expected = train.indices.subarray(train.indptr[u], train.indptr[u + 1]).includes(i) ? 1 : 0;
          expect(out[u * 30 + i]).toBeCloseTo(expected, 3);
        }
      }
    });
  });

  it("iALS fits the observed entries better than the unobserved ones", async () => {
    const model = ials.create({ ...ials.defaults, factors: 8, iterations: 6, alpha: 10, reg: 0.1, threads: 2 });
    await engine().scopedAsync(async () => {
      await model.fit(train, ctx);
      const out = new Float32Array(40 * 30);
      model.score(0, 40, out);
      let seen = 0,
        unseen = 0;
      for (let u = 0; u < 40; u++)
        for (let i = 0; i < 30; i++) {
          if (train.indices.subarray(train.indptr[u], train.indptr[u + 1]).includes(i)) seen += out[u * 30 + i];
          else unseen += out[u * 30 + i];
        }
      expect(seen / train.indptr[40]).toBeGreaterThan(0.5);
      expect(unseen / (40 * 30 - train.indptr[40])).toBeLessThan(0.3);
    });
  });

  it("SVD ranks a user's items by predicted rating", async () => {
    // user 0 rates item 0 with 5 and item 1 with 1; everybody else likes item 0 too
    const r: number[] = [],
      c: number[] = [],
      v: number[] = [];
    for (let u = 0; u < 20; u++) {
      r.push(u, u);
      c.push(0, 1);
      v.push(5, u === 0 ? 1 : 2);
    }
    const rated = csrFromTriples(20, 2, r, c, v);
    const model = svd.create({ ...svd.defaults, n_factors: 4, n_epochs: 60, lr_all: 0.02, threads: 1 });
    await engine().scopedAsync(async () => {
      await model.fit(rated, ctx);
      const out = new Float32Array(2);
      model.score(0, 1, out);
      expect(out[0]).toBeGreaterThan(out[1] + 1);
    });
  });
});

describe("the tutorial's capped recall", () => {
  it("divides hits by min(K, n) and is reported under its own name only on request", () => {
    const acc = new MetricAccumulator([2], { cappedRecall: true });
    acc.add([7, 8], 2, (i) => i === 7, 5);
    const m = acc.result();
    expect(m["recall@2"]).toBeCloseTo(1 / 5, 12);
    expect(m["recall_capped@2"]).toBeCloseTo(1 / 2, 12);
    expect(Object.keys(new MetricAccumulator([2]).result())).not.toContain("recall_capped@2");
  });
});
