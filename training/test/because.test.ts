// because.onnx, run in onnxruntime-web: for each recommended item, the most similar history item
// by cosine, checked against a brute-force search on random embeddings.
import * as ort from "onnxruntime-web";
import { describe, expect, it } from "vitest";
import { BECAUSE_GRAPH } from "../src/contract/artifacts.ts";
import { buildBecauseGraph } from "../src/export/onnx-graph.ts";
import { Rng } from "../src/util/rng.ts";

ort.env.wasm.numThreads = 1;

describe("the because graph", () => {
  it("names the most similar history item and its cosine for every recommended item", async () => {
    const rng = new Rng(12);
    const rows = 40;
    const dim = 7;
    const table = new Float32Array(rows * dim);
    for (let r = 0; r < rows; r++) {
      let n = 0;
      for (let c = 0; c < dim; c++) {
        table[r * dim + c] = rng.normal();
        n += table[r * dim + c] ** 2;
      }
      for (let c = 0; c < dim; c++) table[r * dim + c] /= Math.sqrt(n);
    }
    const session = await ort.InferenceSession.create(buildBecauseGraph("t", table, rows, dim, BECAUSE_GRAPH));
    const t = (v: number[]) => new ort.Tensor("int64", BigInt64Array.from(v.map(BigInt)), [v.length]);
    for (let trial = 0; trial < 20; trial++) {
      const items = Array.from({ length: 1 + rng.int(8) }, () => rng.int(rows));
      const history = Array.from({ length: 1 + rng.int(6) }, () => rng.int(rows));
      const out = await session.run({ [BECAUSE_GRAPH.inputs.items]: t(items), [BECAUSE_GRAPH.inputs.history]: t(history) });
      const position = Array.from(out[BECAUSE_GRAPH.outputs.position].data as BigInt64Array, Number);
      const similarity = Array.from(out[BECAUSE_GRAPH.outputs.similarity].data as Float32Array);
      items.forEach((item, k) => {
        const cos = history.map((h) => Array.from({ length: dim }, (_, c) => table[item * dim + c] * table[h * dim + c]).reduce((a, b) => a + b, 0));
        const best = cos.indexOf(Math.max(...cos));
        expect(cos[position[k]]).toBeCloseTo(cos[best], 5);
        expect(similarity[k]).toBeCloseTo(cos[best], 5);
      });
    }
  });
});
