// ONNX top-K scoring graphs, built with the ONNX protobuf schema (onnx-proto), never by hand:
// given a query row index, k and a list of candidate indices to exclude, score every
// candidate by dot product with the query's row, set the excluded ones to -inf, return the
// top k (scores and indices, best first).
import onnxProto from "onnx-proto";
import type { BECAUSE_GRAPH } from "../contract/artifacts.ts";
import type { FoldIn } from "../models/foldin.ts";

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
/** ONNX IR 8 / opset 13: what onnx-proto's schema (ONNX 1.10) and onnxruntime-web both know. */
const IR_VERSION = 8;
const OPSET = 13;

export interface TopKGraphSpec {
  name: string;
  /** Table the query row is taken from ([rows x dim]); null: the candidate table itself. */
  queries: { name: string; data: Float32Array; rows: number } | null;
  candidates: { name: string; data: Float32Array; rows: number };
  dim: number;
  inputs: { query: string; k: string; exclude: string };
  outputs: { scores: string; items: string };
  docString: string;
}

function floatTensor(name: string, data: Float32Array, dims: number[]): onnxProto.onnx.ITensorProto {
  return { name, dataType: FLOAT, dims, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

function int64Tensor(name: string, values: number[]): onnxProto.onnx.ITensorProto {
  return { name, dataType: INT64, dims: [values.length], int64Data: values };
}

function valueInfo(name: string, elemType: number, dims: (number | string)[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } },
  };
}

function node(opType: string, inputs: string[], outputs: string[], attribute: onnxProto.onnx.IAttributeProto[] = []): onnxProto.onnx.INodeProto {
  return { opType, input: inputs, output: outputs, name: outputs[0], attribute };
}

const intAttr = (name: string, i: number): onnxProto.onnx.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });

/** Nodes that set the excluded candidates' scores to -inf and return the top k. */
function rankingNodes(allScores: string, inputs: { k: string; exclude: string }, outputs: { scores: string; items: string }): onnxProto.onnx.INodeProto[] {
  return [
    node("Unsqueeze", [inputs.exclude, "axis0"], ["exclude_row"]),
    node("Shape", ["exclude_row"], ["exclude_shape"]),
    node(
      "ConstantOfShape",
      ["exclude_shape"],
      ["minus_inf"],
      [{ name: "value", type: onnx.AttributeProto.AttributeType.TENSOR, t: floatTensor("", Float32Array.of(Number.NEGATIVE_INFINITY), [1]) }],
    ),
    node("ScatterElements", [allScores, "exclude_row", "minus_inf"], ["masked_scores"], [intAttr("axis", 1)]),
    node("TopK", ["masked_scores", inputs.k], [outputs.scores, outputs.items], [intAttr("axis", 1), intAttr("largest", 1), intAttr("sorted", 1)]),
  ];
}

function encode(graph: onnxProto.onnx.IGraphProto): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: "edgerec",
    producerVersion: "1",
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

const rankingOutputs = (outputs: { scores: string; items: string }): onnxProto.onnx.IValueInfoProto[] => [
  valueInfo(outputs.scores, FLOAT, [1, "k"]),
  valueInfo(outputs.items, INT64, [1, "k"]),
];

export function buildTopKGraph(spec: TopKGraphSpec): Uint8Array {
  const { dim, inputs, outputs } = spec;
  const queryTable = spec.queries ?? spec.candidates;
  const initializer = [floatTensor(spec.candidates.name, spec.candidates.data, [spec.candidates.rows, dim]), int64Tensor("axis0", [0])];
  if (spec.queries) initializer.push(floatTensor(spec.queries.name, spec.queries.data, [spec.queries.rows, dim]));
  return encode({
    name: spec.name,
    docString: spec.docString,
    initializer,
    input: [valueInfo(inputs.query, INT64, [1]), valueInfo(inputs.k, INT64, [1]), valueInfo(inputs.exclude, INT64, ["n"])],
    output: rankingOutputs(outputs),
    node: [
      node("Gather", [queryTable.name, inputs.query], ["query_row"], [intAttr("axis", 0)]),
      node("Gemm", ["query_row", spec.candidates.name], ["all_scores"], [intAttr("transB", 1)]),
      ...rankingNodes("all_scores", inputs, outputs),
    ],
  });
}

/** The fold-in graph's interface: a history of item indices instead of a user index. */
export interface FoldInGraphNames {
  inputs: { history: string; k: string; exclude: string };
  outputs: { scores: string; items: string };
}

/** The fold-in's constants and the nodes from the history to all_scores [1 x items]. */
function foldInScoringNodes(f: FoldIn, history: string): { initializer: onnxProto.onnx.ITensorProto[]; node: onnxProto.onnx.INodeProto[]; doc: string } {
  const scalar = (name: string, v: number): onnxProto.onnx.ITensorProto => floatTensor(name, Float32Array.of(v), [1]);
  if (f.kind === "item-item") {
    return {
      initializer: [floatTensor("item_weights", f.weights, [f.items, f.items])],
      node: [
        node("Gather", ["item_weights", history], ["history_rows"], [intAttr("axis", 0)]),
        node("ReduceSum", ["history_rows", "axis0"], ["all_scores"], [intAttr("keepdims", 1)]),
      ],
      doc: "EASE / item-item: the history's indicator row times the item-item weights, excluded items set to -inf, top k.",
    };
  }
  if (f.kind === "propagated") {
    return {
      initializer: [floatTensor("item_contribution", f.contributions, [f.items, f.dim]), floatTensor("item_embedding", f.candidates, [f.items, f.dim])],
      node: [
        node("Gather", ["item_contribution", history], ["history_rows"], [intAttr("axis", 0)]),
        node("ReduceSum", ["history_rows", "axis0"], ["history_sum"], [intAttr("keepdims", 1)]),
        node("Shape", [history], ["history_length"]),
        node("Cast", ["history_length"], ["history_count"], [intAttr("to", FLOAT)]),
        node("Sqrt", ["history_count"], ["history_norm"]),
        node("Div", ["history_sum", "history_norm"], ["user_vector"]),
        node("Gemm", ["user_vector", "item_embedding"], ["all_scores"], [intAttr("transB", 1)]),
      ],
      doc: "LightGCN fold-in: |H|^-1/2 times the sum of the history items' propagated contributions, dot every item's final embedding, excluded items set to -inf, top k.",
    };
  }
  // Least squares: A x = b with A = gram + alpha Y_H^T Y_H and b = (1 + alpha) sum of Y_H rows,
  // solved by conjugate gradients unrolled for `dim` steps (exact in exact arithmetic; ONNX
  // has no linear solve). Vectors are [1 x d] rows; A is symmetric, so A p = p A.
  const nodes: onnxProto.onnx.INodeProto[] = [
    node("Gather", ["item_factors", history], ["history_rows"], [intAttr("axis", 0)]),
    node("Transpose", ["history_rows"], ["history_rows_t"]),
    node("MatMul", ["history_rows_t", "history_rows"], ["history_gram"]),
    node("Mul", ["history_gram", "alpha"], ["history_gram_weighted"]),
    node("Add", ["gram", "history_gram_weighted"], ["system"]),
    node("ReduceSum", ["history_rows", "axis0"], ["history_sum"], [intAttr("keepdims", 1)]),
    node("Mul", ["history_sum", "one_plus_alpha"], ["r_0"]),
    node("Mul", ["r_0", "zero"], ["x_0"]),
    node("Mul", ["r_0", "r_0"], ["rr_terms_0"]),
    node("ReduceSum", ["rr_terms_0", "axis1"], ["rr_0"], [intAttr("keepdims", 1)]),
  ];
  let p = "r_0";
  for (let k = 0; k < f.dim; k++) {
    const [x, r, rr, n] = [`x_${k}`, `r_${k}`, `rr_${k}`, k + 1];
    nodes.push(
      node("MatMul", [p, "system"], [`ap_${k}`]),
      node("Mul", [p, `ap_${k}`], [`pap_terms_${k}`]),
      node("ReduceSum", [`pap_terms_${k}`, "axis1"], [`pap_${k}`], [intAttr("keepdims", 1)]),
      node("Add", [`pap_${k}`, "tiny"], [`pap_safe_${k}`]),
      node("Div", [rr, `pap_safe_${k}`], [`step_${k}`]),
      node("Mul", [`step_${k}`, p], [`dx_${k}`]),
      node("Add", [x, `dx_${k}`], [`x_${n}`]),
      node("Mul", [`step_${k}`, `ap_${k}`], [`dr_${k}`]),
      node("Sub", [r, `dr_${k}`], [`r_${n}`]),
      node("Mul", [`r_${n}`, `r_${n}`], [`rr_terms_${n}`]),
      node("ReduceSum", [`rr_terms_${n}`, "axis1"], [`rr_${n}`], [intAttr("keepdims", 1)]),
      node("Add", [rr, "tiny"], [`rr_safe_${k}`]),
      node("Div", [`rr_${n}`, `rr_safe_${k}`], [`beta_${k}`]),
      node("Mul", [`beta_${k}`, p], [`p_carry_${k}`]),
      node("Add", [`r_${n}`, `p_carry_${k}`], [`p_${n}`]),
    );
    p = `p_${n}`;
  }
  nodes.push(node("Gemm", [`x_${f.dim}`, "item_factors"], ["all_scores"], [intAttr("transB", 1)]));
  return {
    initializer: [
      floatTensor("item_factors", f.factors, [f.items, f.dim]),
      floatTensor("gram", f.gram, [f.dim, f.dim]),
      scalar("alpha", f.alpha),
      scalar("one_plus_alpha", 1 + f.alpha),
      scalar("zero", 0),
      scalar("tiny", 1e-30),
      int64Tensor("axis1", [1]),
    ],
    node: nodes,
    doc: "iALS fold-in: the user's least-squares solve against the fixed item factors (conjugate gradients), dot every item's factors, excluded items set to -inf, top k.",
  };
}

/** A top-K graph whose query is a history of item indices, scored by the model's fold-in. */
export function buildFoldInGraph(name: string, f: FoldIn, names: FoldInGraphNames): Uint8Array {
  const { inputs, outputs } = names;
  const scoring = foldInScoringNodes(f, inputs.history);
  return encode({
    name,
    docString: scoring.doc,
    initializer: [...scoring.initializer, int64Tensor("axis0", [0])],
    input: [valueInfo(inputs.history, INT64, ["h"]), valueInfo(inputs.k, INT64, [1]), valueInfo(inputs.exclude, INT64, ["n"])],
    output: rankingOutputs(outputs),
    node: [...scoring.node, ...rankingNodes("all_scores", inputs, outputs)],
  });
}

/** The because graph (see BECAUSE_GRAPH): argmax over the history of cosine similarity. */
export function buildBecauseGraph(name: string, normalized: Float32Array, rows: number, dim: number, names: typeof BECAUSE_GRAPH): Uint8Array {
  const { inputs, outputs, initializers } = names;
  return encode({
    name,
    docString: "For each recommended item, the most similar history item by cosine of the item embeddings: its position in the history and the similarity.",
    initializer: [floatTensor(initializers.table, normalized, [rows, dim])],
    input: [valueInfo(inputs.items, INT64, ["k"]), valueInfo(inputs.history, INT64, ["h"])],
    output: [valueInfo(outputs.position, INT64, ["k"]), valueInfo(outputs.similarity, FLOAT, ["k"])],
    node: [
      node("Gather", [initializers.table, inputs.items], ["item_rows"], [intAttr("axis", 0)]),
      node("Gather", [initializers.table, inputs.history], ["history_rows"], [intAttr("axis", 0)]),
      node("Gemm", ["item_rows", "history_rows"], ["cosines"], [intAttr("transB", 1)]),
      node("ArgMax", ["cosines"], [outputs.position], [intAttr("axis", 1), intAttr("keepdims", 0), intAttr("select_last_index", 0)]),
      node("ReduceMax", ["cosines"], [outputs.similarity], [{ name: "axes", type: onnx.AttributeProto.AttributeType.INTS, ints: [1] }, intAttr("keepdims", 0)]),
    ],
  });
}
