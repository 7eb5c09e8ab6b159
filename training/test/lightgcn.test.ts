import { describe, expect, it } from "vitest";
import { evaluate } from "../src/eval/evaluate.ts";
import { normalizedAdjacency } from "../src/models/graph/adjacency.ts";
import { BprSampler } from "../src/models/graph/sampler.ts";
import { lightgcn, mf } from "../src/models/lightgcn.ts";
import { rowOf } from "../src/protocol/csr.ts";
import { PROTOCOLS, buildSplit } from "../src/protocol/protocols.ts";
import type { Dataset } from "../src/data/parse.ts";
import type { Recommender } from "../src/models/recommender.ts";
import { Rng } from "../src/util/rng.ts";
import { cpuBackends, randomTrain } from "./graph-helpers.ts";
import { lightGcnGradientCheck } from "./lightgcn-gradient.ts";

const backends = cpuBackends();

describe("normalized adjacency", () => {
  it("is symmetric with weights 1 / sqrt(deg(u) deg(i)) from train interactions only", () => {
    const train = randomTrain(6, 5, 3, 1);
    const a = normalizedAdjacency(train);
    const w = new Map<string, number>();
    for (let r = 0; r < a.rows; r++) for (let p = a.indptr[r]; p < a.indptr[r + 1]; p++) w.set(`${r},${a.indices[p]}`, a.values[p]);
    expect(w.size).toBe(2 * train.indptr[train.rows]);
    const itemDeg = new Array(5).fill(0);
    for (const i of train.indices) itemDeg[i]++;
    for (let u = 0; u < 6; u++) {
      for (const i of rowOf(train, u)) {
        const expected = 1 / Math.sqrt(rowOf(train, u).length * itemDeg[i]);
        expect(w.get(`${u},${6 + i}`)).toBeCloseTo(expected, 6);
        expect(w.get(`${6 + i},${u}`)).toBeCloseTo(expected, 6);
      }
    }
  });
});

describe("BPR sampler", () => {
  it("visits every train interaction once per epoch and never samples a train item as negative", () => {
    const train = randomTrain(20, 12, 5, 2);
    const s = new BprSampler(train, new Rng(3));
    s.shuffle();
    const n = s.size;
    const u = new Int32Array(n),
      p = new Int32Array(n),
      q = new Int32Array(n);
    s.fill(0, n, u, p, q);
    const seen = new Set<string>();
    for (let k = 0; k < n; k++) {
      seen.add(`${u[k]},${p[k] - 20}`);
      expect(Array.from(rowOf(train, u[k]))).toContain(p[k] - 20);
      expect(Array.from(rowOf(train, u[k]))).not.toContain(q[k] - 20);
    }
    expect(seen.size).toBe(train.indptr[train.rows]);
  });
});

describe("LightGCN gradient (finite differences in float64)", () => {
  for (const layers of [0, 1, 3]) {
    for (const backend of backends) {
      it(`analytic gradient matches central differences: ${layers} layer(s), ${backend.description}`, async () => {
        const check = await lightGcnGradientCheck(backend, layers);
        expect(check.loss).toBeCloseTo(check.referenceLoss, 5);
        // the analytic gradient is float32: its relative error is bounded well below 1e-4
        expect(check.relativeError).toBeLessThan(1e-4);
      });
    }
  }
});

/** Two taste groups: each user mostly picks items of its own half of the catalogue. */
function syntheticDataset(): Dataset {
  const rng = new Rng(8);
  const u: number[] = [],
    it: number[] = [],
    r: number[] = [];
  for (let a = 1; a <= 80; a++) {
    const chosen = new Set<number>();
    while (chosen.size < 22) chosen.add(1 + 2 * rng.int(30) + (a % 2));
    while (chosen.size < 25) chosen.add(1 + rng.int(60));
    for (const b of chosen) {
      u.push(a);
      it.push(b);
      r.push(3 + rng.int(3));
    }
  }
  return {
    name: "ml-100k",
    ratings: { length: u.length, user: Int32Array.from(u), item: Int32Array.from(it), rating: Float32Array.from(r), timestamp: new Int32Array(u.length) },
    movies: [],
    users: [],
  };
}

describe("training", () => {
  const split = buildSplit(syntheticDataset(), PROTOCOLS.recbole, 1);
  const params = { ...lightgcn.defaults, dim: 8, batch: 64, epochs: 3, lr: 0.01, eval_every: 1 };

  async function trainOnce(threads: number) {
    const model = lightgcn.create({ ...params, threads });
    const log: number[] = [];
    await model.fit(split.train, {
      seed: 5,
      log: () => {},
      validate: async (m) => (await evaluate(m, split, "valid")).metrics,
      onEpoch: (r) => log.push(r.loss),
    });
    model.dispose?.();
    return { log, info: model.fitInfo!() };
  }

  it("is reproducible: same seed, same losses, with 1 or 2 threads", async () => {
    const a = await trainOnce(1);
    const b = await trainOnce(1);
    const c = await trainOnce(2);
    expect(a.log).toHaveLength(3);
    expect(b.log).toEqual(a.log);
    expect(c.log).toEqual(a.log);
  });

  it("lowers the BPR loss and learns the taste groups", async () => {
    const model = mf.create({ ...mf.defaults, dim: 16, batch: 128, epochs: 20, lr: 0.01, patience: 50, eval_every: 10, threads: 1 });
    const losses: number[] = [];
    await model.fit(split.train, { seed: 1, log: () => {}, onEpoch: (r) => losses.push(r.bpr) });
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] * 0.8);
    const random: Recommender = {
      name: "random",
      params: {},
      async fit() {},
      score: (from, to, out) => {
        const g = new Rng(from);
        for (let i = 0; i < (to - from) * split.counts.items; i++) out[i] = g.next();
      },
    };
    const learned = (await evaluate(model, split, "test")).metrics["ndcg@10"];
    const chance = (await evaluate(random, split, "test")).metrics["ndcg@10"];
    expect(learned).toBeGreaterThan(chance * 1.5);
  });

  it("ranks on its backend for evaluation, with the metrics of scoring every item on the host", async () => {
    const model = lightgcn.create({ ...params, epochs: 4, threads: 2 });
    await model.fit(split.train, { seed: 3, log: () => {} });
    expect(model.rank).toBeDefined();
    for (const which of ["valid", "test"] as const) {
      const ranked = await evaluate(model, split, which);
      // the same model seen only through score(): host dot products, host top-K
      const scored = await evaluate({ name: "scored", params: {}, fit: async () => {}, score: model.score.bind(model) }, split, which);
      expect(ranked.users).toBe(scored.users);
      for (const [k, v] of Object.entries(scored.metrics)) expect(ranked.metrics[k as keyof typeof ranked.metrics]).toBeCloseTo(v, 6);
    }
    model.dispose?.();
  });

  it("stops when aborted and keeps the best checkpoint", async () => {
    const controller = new AbortController();
    const model = lightgcn.create({ ...params, epochs: 50, threads: 1 });
    let epochs = 0;
    await model.fit(split.train, {
      seed: 1,
      log: () => {},
      signal: controller.signal,
      validate: async (m) => (await evaluate(m, split, "valid")).metrics,
      onEpoch: () => {
        if (++epochs === 2) controller.abort();
      },
    });
    expect(model.fitInfo!().stopped).toBe("interrupted");
    expect(model.fitInfo!().epochs).toBe(2);
  });
});
