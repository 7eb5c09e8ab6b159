// The graph-model kernels against plain TypeScript references on random inputs: odd sizes,
// widths that are not multiples of 4 or 16, empty rows, a single row, 1 to 3 threads.
import { afterAll, describe, expect, it } from "vitest";
import { engine } from "../src/engine/wasm/kernels.ts";
import { GraphOps } from "../src/engine/wasm/graph-ops.ts";
import { columnBlocks, planPropagation } from "../src/engine/wasm/propagation-plan.ts";
import { csrFromTriples } from "../src/protocol/csr.ts";
import { Rng } from "../src/util/rng.ts";

const rng = new Rng(99);
const rand = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
const ops = [1, 2, 3].map((t) => new GraphOps(engine(), t));
afterAll(async () => {
  for (const o of ops) await o.pool.close();
});

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return d;
}

function randomWeightedCsr(rows: number, density: number) {
  const r: number[] = [],
    c: number[] = [],
    v: number[] = [];
  for (let i = 0; i < rows; i++) {
    if (i % 7 === 2) continue; // empty rows
    for (let j = 0; j < rows; j++)
      if (rng.next() < density) {
        r.push(i);
        c.push(j);
        v.push(rng.next());
      }
  }
  const m = csrFromTriples(rows, rows, r, c, v);
  return { ...m, values: m.values! };
}

describe("tiled propagation", () => {
  for (const rows of [1, 13, 150]) {
    for (const d of [1, 3, 17, 64, 67]) {
      for (const o of ops) {
        it(`matches the reference: ${rows} rows, d=${d}, ${o.threads} thread(s), several column blocks`, () => {
          const e = engine();
          e.scoped(() => {
            const a = randomWeightedCsr(rows, 0.2);
            // users/items split is arbitrary here: cut the columns into small blocks
            const plan = planPropagation(e, a, o.threads, columnBlocks([Math.floor(rows / 2), rows - Math.floor(rows / 2)], 7));
            const src = rand(rows * d);
            const accStart = rand(rows * d);
            const dst = e.alloc("f32", rows * d);
            dst.view().fill(42);
            const acc = e.from("f32", accStart);
            o.propagate(plan, e.from("f32", src), dst, acc, d);
            const ref = new Float32Array(rows * d);
            for (let i = 0; i < rows; i++) {
              for (let p = a.indptr[i]; p < a.indptr[i + 1]; p++) {
                for (let c = 0; c < d; c++) ref[i * d + c] += a.values[p] * src[a.indices[p] * d + c];
              }
            }
            expect(maxRelDiff(dst.view(), ref)).toBeLessThan(1e-5);
            expect(
              maxRelDiff(
                acc.view(),
                ref.map((x, i) => x + accStart[i]),
              ),
            ).toBeLessThan(1e-5);
          });
        });
      }
    }
  }
});

function randomTriples(count: number, users: number, items: number) {
  const u = Int32Array.from({ length: count }, () => rng.int(users));
  const p = Int32Array.from({ length: count }, () => users + rng.int(items));
  const n = Int32Array.from({ length: count }, () => users + rng.int(items));
  return { u, p, n };
}

describe("BPR and L2 gradients", () => {
  for (const d of [1, 5, 64, 66]) {
    it(`bprGrad matches the reference for d=${d} (repeated rows included)`, () => {
      const e = engine();
      e.scoped(() => {
        const users = 4,
          items = 6,
          count = 9,
          scale = 0.25;
        const emb = rand((users + items) * d);
        const { u, p, n } = randomTriples(count, users, items);
        const t = { users: e.from("i32", u), pos: e.from("i32", p), neg: e.from("i32", n) };
        const grad = e.alloc("f32", emb.length);
        const loss = ops[0].bprGrad(t, 0, count, e.from("f32", emb), scale, grad, d, count);
        const ref = new Float64Array(emb.length);
        let refLoss = 0;
        for (let k = 0; k < count; k++) {
          let x = 0;
          for (let c = 0; c < d; c++) x += scale * scale * emb[u[k] * d + c] * (emb[p[k] * d + c] - emb[n[k] * d + c]);
          refLoss += Math.log1p(Math.exp(-x));
          const g = -1 / (1 + Math.exp(x)) / count;
          for (let c = 0; c < d; c++) {
            ref[u[k] * d + c] += g * scale * (emb[p[k] * d + c] - emb[n[k] * d + c]);
            ref[p[k] * d + c] += g * scale * emb[u[k] * d + c];
            ref[n[k] * d + c] -= g * scale * emb[u[k] * d + c];
          }
        }
        expect(Math.abs(loss - refLoss) / refLoss).toBeLessThan(1e-5);
        expect(maxRelDiff(grad.view(), ref)).toBeLessThan(1e-5);
      });
    });
  }

  it("l2Grad adds coef * row for every occurrence and returns the squared norms", () => {
    const e = engine();
    e.scoped(() => {
      const d = 7,
        users = 3,
        items = 4,
        count = 5,
        coef = 0.3;
      const param = rand((users + items) * d);
      const { u, p, n } = randomTriples(count, users, items);
      const grad = e.alloc("f32", param.length);
      const sq = ops[0].l2Grad({ users: e.from("i32", u), pos: e.from("i32", p), neg: e.from("i32", n) }, 0, count, e.from("f32", param), grad, d, coef);
      const ref = new Float64Array(param.length);
      let refSq = 0;
      for (const row of [...u, ...p, ...n]) {
        for (let c = 0; c < d; c++) {
          ref[row * d + c] += coef * param[row * d + c];
          refSq += param[row * d + c] ** 2;
        }
      }
      expect(Math.abs(sq - refSq) / refSq).toBeLessThan(1e-5);
      expect(maxRelDiff(grad.view(), ref)).toBeLessThan(1e-5);
    });
  });
});

describe("Adam and scoring", () => {
  for (const o of ops) {
    it(`adam matches the reference over 3 steps with ${o.threads} thread(s), length 1003`, () => {
      const e = engine();
      e.scoped(() => {
        const n = 1003,
          s = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
          scale = 0.5;
        const p0 = rand(n);
        const param = e.from("f32", p0),
          m = e.alloc("f32", n),
          v = e.alloc("f32", n);
        const ref = Float64Array.from(p0),
          rm = new Float64Array(n),
          rv = new Float64Array(n);
        for (let step = 1; step <= 3; step++) {
          const g = rand(n);
          o.adam(param, e.from("f32", g), m, v, step, scale, s);
          for (let i = 0; i < n; i++) {
            const gi = g[i] * scale;
            rm[i] = s.beta1 * rm[i] + (1 - s.beta1) * gi;
            rv[i] = s.beta2 * rv[i] + (1 - s.beta2) * gi * gi;
            ref[i] -= (s.lr * rm[i]) / (1 - s.beta1 ** step) / (Math.sqrt(rv[i] / (1 - s.beta2 ** step)) + s.eps);
          }
        }
        expect(maxRelDiff(param.view(), ref)).toBeLessThan(1e-5);
      });
    });

    it(`dotScores matches the reference with ${o.threads} thread(s)`, () => {
      const e = engine();
      e.scoped(() => {
        const users = 11,
          items = 9,
          d = 67,
          u0 = 2,
          u1 = 11;
        const ue = rand(users * d),
          ie = rand(items * d);
        const out = e.alloc("f32", (u1 - u0) * items);
        o.dotScores(e.from("f32", ue), e.from("f32", ie), items, d, u0, u1, out);
        const ref = new Float64Array((u1 - u0) * items);
        for (let u = u0; u < u1; u++) for (let i = 0; i < items; i++) for (let c = 0; c < d; c++) ref[(u - u0) * items + i] += ue[u * d + c] * ie[i * d + c];
        expect(maxRelDiff(out.view(), ref)).toBeLessThan(1e-5);
      });
    });
  }
});
