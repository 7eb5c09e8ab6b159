// The contract's structural check of a graph (graph-check.ts over onnx-summary.ts): every kind of
// graph the exporter writes passes it, and each fault that ONNX Runtime refuses only after it has
// kept the graph's size of its wasm memory (an unknown operator or domain, another IR or opset,
// an initializer whose data does not fit its dims, a value nothing defines) is named by it, so
// that publish and the Worker's load refuse such a graph before ORT ever sees it.
import onnxProto from "onnx-proto";
import { describe, expect, it } from "vitest";
import { RECS_GRAPH } from "../src/contract/artifacts.ts";
import { GRAPH_FORMAT, GRAPH_OPERATORS, graphProblems } from "../src/contract/graph-check.ts";
import { onnxSummary } from "../src/contract/onnx-summary.ts";
import { exportedGraphs } from "./exported-graphs.ts";

const { onnx } = onnxProto;
const ITEMS = 7;
const DIM = 3;
const exported = exportedGraphs(ITEMS, DIM);

type Model = ReturnType<typeof onnx.ModelProto.decode>;
const good = exported[0][1];
/** The top-k graph with one change, re-encoded: a valid protobuf either way. */
function changed(change: (m: Model) => void): Uint8Array {
  const m = onnx.ModelProto.decode(good);
  change(m);
  return onnx.ModelProto.encode(m).finish();
}
const nodeOf = (m: Model, op: string) => m.graph!.node!.find((n) => n.opType === op)!;
const tableOf = (m: Model, name: string) => m.graph!.initializer!.find((t) => t.name === name)!;

describe("the contract's graph check", () => {
  it("passes every kind of graph the exporter writes", () => {
    for (const [what, bytes] of exported) {
      const summary = onnxSummary(bytes);
      expect({ what, problems: graphProblems(summary) }).toEqual({ what, problems: [] });
      expect(summary.irVersion).toBe(GRAPH_FORMAT.irVersion);
      for (const n of summary.nodes) expect(GRAPH_OPERATORS.has(n.opType), `${what}: ${n.opType}`).toBe(true);
    }
  });

  it("reads the nodes, outputs and tables' data of a graph", () => {
    const s = onnxSummary(good);
    expect(s.opsets).toEqual(new Map([["", GRAPH_FORMAT.opset]]));
    expect(s.outputs).toEqual([RECS_GRAPH.outputs.scores, RECS_GRAPH.outputs.items]);
    expect(s.nodes.map((n) => n.opType)).toContain("TopK");
    expect(nodeOf(onnx.ModelProto.decode(good), "TopK").input).toEqual(s.nodes.find((n) => n.opType === "TopK")!.inputs);
    expect(s.initializerData.get(RECS_GRAPH.initializers.candidates)).toEqual({
      dataType: 1,
      rawBytes: ITEMS * DIM * 4,
      typedValues: 0,
      strings: 0,
      external: false,
    });
    expect(s.initializerData.get("axis0")).toMatchObject({ dataType: 7, rawBytes: null, typedValues: 1 });
  });

  it("names each fault ONNX Runtime would refuse after keeping the graph's memory", () => {
    const faults: [string, Uint8Array, RegExp][] = [
      ["an unknown operator", changed((m) => (nodeOf(m, "TopK").opType = "TopX")), /uses the operator "TopX"/],
      ["another domain", changed((m) => (nodeOf(m, "Gemm").domain = "com.example")), /operators of the domain "com\.example"/],
      ["another opset", changed((m) => (m.opsetImport![0].version = 99)), /default operator set 99, edgerec graphs use opset 13/],
      ["another IR version", changed((m) => (m.irVersion = 99)), /ONNX IR version 99, edgerec graphs are IR 8/],
      [
        "a table larger than its data",
        changed((m) => (tableOf(m, RECS_GRAPH.initializers.candidates).dims = [ITEMS * 2, DIM])),
        /table item_embedding is 14 x 3 \(42 values\) but holds 84 bytes/,
      ],
      [
        "a typed table with a value too many",
        changed((m) => (tableOf(m, "axis0").int64Data as number[]).push(1)),
        /table axis0 is 1 \(1 values\) but holds 2 values/,
      ],
      ["an element type no graph holds", changed((m) => (tableOf(m, "axis0").dataType = onnx.TensorProto.DataType.STRING)), /table axis0 has element type 8/],
      [
        "data in an external file",
        changed((m) => (tableOf(m, "axis0").dataLocation = onnx.TensorProto.DataLocation.EXTERNAL)),
        /table axis0 keeps its data in an external file/,
      ],
      ["a node reading nothing defined", changed((m) => (nodeOf(m, "Gemm").input![0] = "nowhere")), /has nodes reading "nowhere", which nothing defines/],
      ["an output nothing computes", changed((m) => (m.graph!.output![0].name = "ghost")), /declares the output "ghost", which nothing computes/],
      ["a value defined twice", changed((m) => (nodeOf(m, "Shape").output![0] = "query_row")), /defines "query_row" more than once/],
      ["a sparse initializer", changed((m) => (m.graph!.sparseInitializer = [{ dims: [1] }])), /holds sparse initializers/],
    ];
    for (const [what, bytes, problem] of faults) expect(graphProblems(onnxSummary(bytes)).join("; "), what).toMatch(problem);
  });
});
