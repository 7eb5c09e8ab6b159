// The Worker binds ONNX inputs and outputs by the contract's names, not by position: a graph
// that declares its inputs in another order scores the same.
import onnxProto from "onnx-proto";
import * as ort from "onnxruntime-web";
import { describe, expect, it } from "vitest";
import { RECS_GRAPH } from "../../training/src/contract/artifacts.ts";
import { buildTopKGraph } from "../../training/src/export/onnx-graph.ts";
import { Rng } from "../../training/src/util/rng.ts";
import { onnxRanker, recsForUser } from "../src/scoring.ts";

ort.env.wasm.numThreads = 1;

function graph(reversed: boolean): Uint8Array {
  const rng = new Rng(4);
  const table = (rows: number) => Float32Array.from({ length: rows * 4 }, () => rng.normal());
  const bytes = buildTopKGraph({
    name: "t",
    queries: { name: RECS_GRAPH.initializers.queries, data: table(5), rows: 5 },
    candidates: { name: RECS_GRAPH.initializers.candidates, data: table(9), rows: 9 },
    dim: 4,
    inputs: RECS_GRAPH.inputs,
    outputs: RECS_GRAPH.outputs,
    docString: "",
  });
  if (!reversed) return bytes;
  const model = onnxProto.onnx.ModelProto.decode(bytes);
  model.graph!.input!.reverse();
  model.graph!.output!.reverse();
  return onnxProto.onnx.ModelProto.encode(model).finish();
}

async function rank(reversed: boolean): Promise<number[]> {
  const session = await ort.InferenceSession.create(graph(reversed));
  if (reversed) expect(session.inputNames[0]).toBe(RECS_GRAPH.inputs.exclude);
  // model.onnx ranking known users by their trained vector, over 9 items, without a fold-in
  const model = { ranker: onnxRanker(ort, 9, session, false, null) };
  return (await recsForUser(model, { index: 2, rated: [], history: null }, 3, [0, 4])).map((s) => s.item);
}

describe("ONNX binding by name", () => {
  it("ranks the same when the graph declares its inputs and outputs in another order", async () => {
    const plain = await rank(false);
    expect(plain).toHaveLength(3);
    expect(plain).not.toContain(0);
    expect(plain).not.toContain(4);
    expect(await rank(true)).toEqual(plain);
  });
});
