import { describe, expect, it } from "vitest";
import { DATASETS } from "../src/data/datasets.ts";
import { loadDataset } from "../src/data/parse.ts";
import { blend } from "../src/models/blend.ts";
import { ease } from "../src/models/ease.ts";
import { ials } from "../src/models/ials.ts";
import { mf } from "../src/models/lightgcn.ts";
import { puresvd } from "../src/models/puresvd.ts";
import { svd } from "../src/models/svd.ts";
import { itemknn } from "../src/models/itemknn.ts";
import { pop } from "../src/models/pop.ts";
import type { ModelFactory, Params } from "../src/models/recommender.ts";
import { type Csr, csrFromTriples } from "../src/protocol/csr.ts";
import { PROTOCOLS, buildSplit } from "../src/protocol/protocols.ts";
import { trainModel } from "../src/pipeline/train-model.ts";
import { engine } from "../src/engine/wasm/kernels.ts";
import { Rng } from "../src/util/rng.ts";
import { realDatasetDir } from "./real-data.ts";

const ctx = { seed: 1, log: () => {} };

/** Small settings, so the memory-ownership checks train in milliseconds. */
const SMALL: Record<string, Params> = {
  ials: { factors: 4, iterations: 2 },
  puresvd: { rank: 4, iterations: 2 },
  svd: { n_factors: 4, n_epochs: 2 },
  mf: { dim: 4, epochs: 2, batch: 64 },
  blend: { ease_weight: 0.3 },
};

function randomBinary(rows: number, cols: number, density: number, seed: number): Csr {
  const rng = new Rng(seed);
  const r: number[] = [],
    c: number[] = [];
  for (let u = 0; u < rows; u++)
    for (let i = 0; i < cols; i++)
      if (rng.next() < density) {
        r.push(u);
        c.push(i);
      }
  return csrFromTriples(rows, cols, r, c);
}

function dense(m: Csr): number[][] {
  const x = Array.from({ length: m.rows }, () => new Array<number>(m.cols).fill(0));
  for (let u = 0; u < m.rows; u++) for (let p = m.indptr[u]; p < m.indptr[u + 1]; p++) x[u][m.indices[p]] = 1;
  return x;
}

function gram(x: number[][], n: number): number[][] {
  const g = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (const row of x) for (let i = 0; i < n; i++) if (row[i]) for (let j = 0; j < n; j++) g[i][j] += row[j];
  return g;
}

/** Plain Gauss-Jordan with partial pivoting: the reference the kernel path is checked against. */
function inverse(a: number[][]): number[][] {
  const n = a.length;
  const m = a.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i][k]) > Math.abs(m[p][k])) p = i;
    [m[k], m[p]] = [m[p], m[k]];
    const d = m[k][k];
    for (let j = 0; j < 2 * n; j++) m[k][j] /= d;
    for (let i = 0; i < n; i++) {
      if (i === k) continue;
      const f = m[i][k];
      for (let j = 0; j < 2 * n; j++) m[i][j] -= f * m[k][j];
    }
  }
  return m.map((row) => row.slice(n));
}

async function scores(factory: ModelFactory, params: Params, train: Csr): Promise<Float32Array> {
  const model = factory.create({ ...factory.defaults, ...params });
  await model.fit(train, ctx);
  const out = new Float32Array(train.rows * train.cols);
  model.score(0, train.rows, out);
  return out;
}

function expectClose(actual: Float32Array, expected: number[][], tol: number): void {
  const cols = expected[0].length;
  let worst = 0;
  for (const [u, row] of expected.entries()) for (const [i, v] of row.entries()) worst = Math.max(worst, Math.abs(actual[u * cols + i] - v));
  expect(worst).toBeLessThanOrEqual(tol);
}

describe("models against plain references", () => {
  const train = randomBinary(37, 70, 0.15, 11);
  const x = dense(train);
  const n = train.cols;
  const g = gram(x, n);

  it("EASE equals X (I - P diag(1/diag P)) with P = (G + lambda I)^-1", async () => {
    const lambda = 3;
    const p = inverse(g.map((row, i) => row.map((v, j) => v + (i === j ? lambda : 0))));
    const b = p.map((row, i) => row.map((v, j) => (i === j ? 0 : -v / p[j][j])));
    const expected = x.map((row) => b[0].map((_, j) => row.reduce((s, xi, i) => s + xi * b[i][j], 0)));
    expectClose(await scores(ease, { lambda }, train), expected, 1e-4);
  });

  it("ItemKNN keeps each item's k most cosine-similar items and sums them over the user's items", async () => {
    const k = 5;
    const w = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    for (let j = 0; j < n; j++) {
      const sims = Array.from({ length: n }, (_, i) => ({ i, s: i === j || g[i][j] === 0 ? -Infinity : g[i][j] / (Math.sqrt(g[i][i]) * Math.sqrt(g[j][j])) }))
        .filter((e) => e.s > -Infinity)
        .sort((a, b) => b.s - a.s || a.i - b.i)
        .slice(0, k);
      for (const { i, s } of sims) w[i][j] = s;
    }
    const expected = x.map((row) => w[0].map((_, j) => row.reduce((s, xi, i) => s + xi * w[i][j], 0)));
    expectClose(await scores(itemknn, { k, shrink: 0 }, train), expected, 1e-5);
  });

  it("Pop scores every item by its number of train interactions", async () => {
    const s = await scores(pop, {}, train);
    const counts = x[0].map((_, i) => x.reduce((c, row) => c + row[i], 0));
    expectClose(
      s,
      x.map(() => counts),
      0,
    );
  });

  for (const factory of [ease, itemknn, ials, puresvd, svd, mf, blend]) {
    it(`${factory.name} owns its kernel memory: fitting allocates, dispose frees all of it`, async () => {
      const e = engine();
      const before = e.mark();
      const model = factory.create({ ...factory.defaults, ...SMALL[factory.name], threads: 1 });
      // ratings for SVD; the implicit models ignore them
      const rated = { ...train, values: new Float32Array(train.indptr[train.rows]).fill(4) };
      await model.fit(rated, { ...ctx, memory: e });
      model.score(0, train.rows, new Float32Array(train.rows * train.cols));
      expect(e.mark()).toBeGreaterThan(before);
      model.dispose!();
      expect(e.mark()).toBe(before);
    });
  }
});

const ml1m = realDatasetDir("ml-1m");
describe.skipIf(!ml1m)("calibration on the real ML-1M (RecBole protocol)", () => {
  it("EASE with RecBole's best lambda (1000) lands within 0.006 of RecBole's published 0.2139 / 0.2865", async () => {
    const split = buildSplit(await loadDataset(DATASETS["ml-1m"], ml1m!), PROTOCOLS.recbole);
    const r = await trainModel(ease, split, { overrides: { lambda: 1000 } });
    expect(Math.abs(r.test["recall@10"] - 0.2139)).toBeLessThan(0.006);
    expect(Math.abs(r.test["ndcg@10"] - 0.2865)).toBeLessThan(0.006);
  });
});
