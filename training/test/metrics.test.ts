import { describe, expect, it } from "vitest";
import { evaluateMatrices } from "../src/eval/evaluate.ts";
import { MetricAccumulator } from "../src/eval/metrics.ts";
import { topK } from "../src/util/topk.ts";
import { csrFromTriples } from "../src/protocol/csr.ts";
import type { Recommender } from "../src/models/recommender.ts";

describe("topK", () => {
  it("orders by score and breaks ties by the smaller index", () => {
    const out = new Int32Array(4);
    const n = topK(Float32Array.from([0.5, 0.9, 0.5, 0.1, 0.9]), 0, 5, 4, out);
    expect(n).toBe(4);
    expect(Array.from(out)).toEqual([1, 4, 0, 2]);
  });

  it("never selects masked (-Infinity) or NaN scores and reports fewer than k", () => {
    const out = new Int32Array(5);
    const n = topK(Float32Array.from([-Infinity, 3, Number.NaN, 1, -Infinity]), 0, 5, 5, out);
    expect(n).toBe(2);
    expect(Array.from(out.subarray(0, n))).toEqual([1, 3]);
  });

  it("reads a row at an offset and agrees with a full sort on random scores", () => {
    const scores = Float32Array.from({ length: 1000 }, (_, i) => (Math.sin(i * 12.9898) * 43758.5453) % 1);
    const out = new Int32Array(20);
    topK(scores, 500, 500, 20, out);
    const expected = Array.from({ length: 500 }, (_, i) => i)
      .sort((a, b) => scores[500 + b] - scores[500 + a] || a - b)
      .slice(0, 20);
    expect(Array.from(out)).toEqual(expected);
  });
});

describe("MetricAccumulator (hand-computed)", () => {
  it("computes recall, ndcg, precision, hit and mrr with binary relevance", () => {
    const acc = new MetricAccumulator([1, 4]);
    // ranking [3, 5, 1, 2], relevant {2, 4}: one hit at rank 4
    acc.add([3, 5, 1, 2], 4, (i) => i === 2 || i === 4, 2);
    const m = acc.result();
    expect(m["recall@1"]).toBe(0);
    expect(m["ndcg@1"]).toBe(0);
    expect(m["recall@4"]).toBeCloseTo(0.5, 12);
    expect(m["precision@4"]).toBeCloseTo(0.25, 12);
    expect(m["hit@4"]).toBe(1);
    expect(m["mrr@4"]).toBeCloseTo(0.25, 12);
    expect(m["ndcg@4"]).toBeCloseTo(1 / Math.log2(5) / (1 + 1 / Math.log2(3)), 12);
  });

  it("uses min(K, n) relevant items for the ideal DCG but the full n for recall", () => {
    const acc = new MetricAccumulator([2]);
    // 5 relevant items, both of the top 2 are hits
    acc.add([7, 8], 2, () => true, 5);
    const m = acc.result();
    expect(m["ndcg@2"]).toBeCloseTo(1, 12);
    expect(m["recall@2"]).toBeCloseTo(2 / 5, 12);
    expect(m["precision@2"]).toBeCloseTo(1, 12);
  });

  it("skips users without held-out items and averages over the rest", () => {
    const acc = new MetricAccumulator([1]);
    acc.add([0], 1, () => true, 1);
    acc.add([0], 1, () => false, 0);
    acc.add([0], 1, () => false, 3);
    expect(acc.userCount).toBe(2);
    expect(acc.result()["hit@1"]).toBeCloseTo(0.5, 12);
  });
});

function fixedModel(scores: number[][]): Recommender {
  return {
    name: "fixed",
    params: {},
    async fit() {},
    score(from, to, out) {
      const n = scores[0].length;
      for (let u = from; u < to; u++) out.set(scores[u], (u - from) * n);
    },
  };
}

describe("evaluateMatrices", () => {
  const scores = [
    [0.9, 0.5, 0.5, 0.8, 0.1, 0.7],
    [0.9, 0.5, 0.5, 0.8, 0.1, 0.7],
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
  ];
  // user 0 and 1 have item 0 masked; user 2 has no held-out item
  const mask = csrFromTriples(3, 6, [0, 1, 2], [0, 0, 5]);
  const target = csrFromTriples(3, 6, [0, 0, 1], [2, 4, 3]);

  it("masks seen items, ranks the rest with ties by index, skips users with nothing held out", async () => {
    const r = await evaluateMatrices(fixedModel(scores), 6, mask, target, { ks: [1, 4], batchSize: 2 });
    expect(r.users).toBe(2);
    // user 0: ranking [3, 5, 1, 2] -> hit at 4 of 2 relevant; user 1: ranking [3, ...] -> hit at 1
    expect(r.metrics["recall@1"]).toBeCloseTo((0 + 1) / 2, 12);
    expect(r.metrics["recall@4"]).toBeCloseTo((0.5 + 1) / 2, 12);
    expect(r.metrics["mrr@4"]).toBeCloseTo((0.25 + 1) / 2, 12);
    expect(r.metrics["ndcg@4"]).toBeCloseTo((1 / Math.log2(5) / (1 + 1 / Math.log2(3)) + 1) / 2, 12);
  });

  it("never counts a masked item even if it is held out", async () => {
    const leaky = csrFromTriples(3, 6, [0], [0]);
    const r = await evaluateMatrices(fixedModel(scores), 6, mask, leaky, { ks: [1] });
    expect(r.metrics["hit@1"]).toBe(0);
  });

  it("does not depend on the batch size", async () => {
    const a = await evaluateMatrices(fixedModel(scores), 6, mask, target, { ks: [2, 3], batchSize: 1 });
    const b = await evaluateMatrices(fixedModel(scores), 6, mask, target, { ks: [2, 3], batchSize: 64 });
    expect(a.metrics).toEqual(b.metrics);
  });
});
