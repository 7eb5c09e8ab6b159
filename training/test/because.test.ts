// because.onnx, run in onnxruntime-web: for each recommended item, the most similar history item
// by cosine, checked against a brute-force search on random embeddings.
import * as ort from "onnxruntime-web";
import { describe, expect, it } from "vitest";
import { BECAUSE_GRAPH, SIMILAR_GRAPH } from "../src/contract/artifacts.ts";
import { buildBecauseGraph, buildCompactBecauseGraph, buildCompactSimilarGraph } from "../src/export/onnx-graph.ts";
import { quantizeRows } from "../src/models/foldin.ts";
import { Rng } from "../src/util/rng.ts";

ort.env.wasm.numThreads = 1;

const t = (v: number[]) => new ort.Tensor("int64", BigInt64Array.from(v.map(BigInt)), [v.length]);

/** Runs a because graph on random recommended items and a random history. */
async function randomReasons(session: ort.InferenceSession, rng: Rng, rows: number) {
  const items = Array.from({ length: 1 + rng.int(8) }, () => rng.int(rows));
  const history = Array.from({ length: 1 + rng.int(6) }, () => rng.int(rows));
  const out = await session.run({ [BECAUSE_GRAPH.inputs.items]: t(items), [BECAUSE_GRAPH.inputs.history]: t(history) });
  return {
    items,
    history,
    position: Array.from(out[BECAUSE_GRAPH.outputs.position].data as BigInt64Array, Number),
    similarity: Array.from(out[BECAUSE_GRAPH.outputs.similarity].data as Float32Array),
  };
}

/** Random rows of unit length. */
function normalizedTable(rng: Rng, rows: number, dim: number): Float32Array {
  const table = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let n = 0;
    for (let c = 0; c < dim; c++) {
      table[r * dim + c] = rng.normal();
      n += table[r * dim + c] ** 2;
    }
    for (let c = 0; c < dim; c++) table[r * dim + c] /= Math.sqrt(n);
  }
  return table;
}

describe("the because graph", () => {
  it("names the most similar history item and its cosine for every recommended item", async () => {
    const rng = new Rng(12);
    const rows = 40;
    const dim = 7;
    const table = normalizedTable(rng, rows, dim);
    const session = await ort.InferenceSession.create(buildBecauseGraph("t", table, rows, dim, BECAUSE_GRAPH));
    for (let trial = 0; trial < 20; trial++) {
      const { items, history, position, similarity } = await randomReasons(session, rng, rows);
      items.forEach((item, k) => {
        const cos = history.map((h) => Array.from({ length: dim }, (_, c) => table[item * dim + c] * table[h * dim + c]).reduce((a, b) => a + b, 0));
        const best = cos.indexOf(Math.max(...cos));
        expect(cos[position[k]]).toBeCloseTo(cos[best], 5);
        expect(similarity[k]).toBeCloseTo(cos[best], 5);
      });
    }
  });
});

describe("the compact (int8) similar and because graphs", () => {
  const rng = new Rng(21);
  const rows = 50;
  const dim = 9;
  const table = normalizedTable(rng, rows, dim);
  const q = quantizeRows(table, rows, dim);
  const cosine = (a: number, b: number): number => Array.from({ length: dim }, (_, c) => table[a * dim + c] * table[b * dim + c]).reduce((x, y) => x + y, 0);

  it("because: every reason's cosine is within 0.02 of the best exact cosine in the history", async () => {
    const session = await ort.InferenceSession.create(buildCompactBecauseGraph("t", q, rows, dim, BECAUSE_GRAPH));
    for (let trial = 0; trial < 20; trial++) {
      const { items, history, position, similarity } = await randomReasons(session, rng, rows);
      items.forEach((item, k) => {
        const best = Math.max(...history.map((h) => cosine(item, h)));
        expect(cosine(item, history[position[k]])).toBeGreaterThan(best - 0.02);
        expect(Math.abs(similarity[k] - best)).toBeLessThan(0.02);
      });
    }
  });

  it("similar: an item is most similar to itself, and the top k are within 0.02 of the exact cosines", async () => {
    const session = await ort.InferenceSession.create(buildCompactSimilarGraph("t", q, rows, dim, SIMILAR_GRAPH));
    for (const item of [0, 7, 33]) {
      const out = await session.run({ [SIMILAR_GRAPH.inputs.query]: t([item]), [SIMILAR_GRAPH.inputs.k]: t([5]), [SIMILAR_GRAPH.inputs.exclude]: t([]) });
      const items = Array.from(out[SIMILAR_GRAPH.outputs.items].data as BigInt64Array, Number);
      const scores = Array.from(out[SIMILAR_GRAPH.outputs.scores].data as Float32Array);
      expect(items[0]).toBe(item);
      expect(scores[0]).toBeCloseTo(1, 1);
      const exact = Array.from({ length: rows }, (_, j) => cosine(item, j)).sort((a, b) => b - a);
      items.forEach((j, r) => {
        expect(Math.abs(scores[r] - cosine(item, j))).toBeLessThan(0.02);
        expect(cosine(item, j)).toBeGreaterThan(exact[r] - 0.04);
      });
    }
  });
});
