// ONNX top-K scoring graphs, built with the ONNX protobuf schema (onnx-proto), never by hand:
// given a query row index, k and a list of candidate indices to exclude, score every
// candidate by dot product with the query's row, set the excluded ones to -inf, return the
// top k (scores and indices, best first).
import onnxProto from "onnx-proto";
import type { BECAUSE_GRAPH, FallbackFile, SIMILAR_GRAPH, VECTOR_GRAPH } from "../contract/artifacts.ts";
import { fallbackBias, fallbackRows } from "./fallback.ts";
import { type CompactCandidates, type FoldIn, type PropagatedFoldIn, takesUser } from "../models/foldin.ts";

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
const INT8 = onnx.TensorProto.DataType.INT8;
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
  /** Movies served beyond the candidates, scored from them (see fallback.ts). */
  fallback?: FallbackFile;
}

/**
 * Appends the fallback movies' scores to the model's [1 x items] `scores`: each the weighted
 * sum of its neighbours' scores (Gather, Mul, ReduceSum), plus FALLBACK_NONE without any. The
 * model's own scores pass through unchanged. Returns the nodes and the name of [1 x all].
 */
function fallbackNodes(scores: string, f: FallbackFile | undefined): Built & { out: string } {
  const rows = f ? fallbackRows(f) : 0;
  if (!f || rows === 0) return { initializer: [], node: [], doc: "", out: scores };
  return {
    initializer: [
      // int32 indices (Gather takes them): half the bytes of int64
      {
        name: "fallback_neighbours",
        dataType: onnx.TensorProto.DataType.INT32,
        dims: [rows, f.k],
        rawData: new Uint8Array(Int32Array.from(f.neighbours).buffer),
      },
      floatTensor("fallback_weights", Float32Array.from(f.weights), [rows, f.k]),
      floatTensor("fallback_bias", fallbackBias(f), [rows]),
      int64Tensor("fallback_axis2", [2]),
    ],
    node: [
      node("Gather", [scores, "fallback_neighbours"], ["fallback_neighbour_scores"], [intAttr("axis", 1)]),
      node("Mul", ["fallback_neighbour_scores", "fallback_weights"], ["fallback_weighted"]),
      node("ReduceSum", ["fallback_weighted", "fallback_axis2"], ["fallback_sum"], [intAttr("keepdims", 0)]),
      node("Add", ["fallback_sum", "fallback_bias"], ["fallback_scores"]),
      node("Concat", [scores, "fallback_scores"], ["served_scores"], [intAttr("axis", 1)]),
    ],
    doc: `; ${rows} more movies scored by the weighted mean of their neighbours' scores`,
    out: "served_scores",
  };
}

function floatTensor(name: string, data: Float32Array, dims: number[]): onnxProto.onnx.ITensorProto {
  return { name, dataType: FLOAT, dims, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** float32 values stored as float16 (exact when they are already rounded to it). */
function halfTensor(name: string, data: Float32Array, dims: number[]): onnxProto.onnx.ITensorProto {
  const half = Float16Array.from(data);
  return { name, dataType: FLOAT16, dims, rawData: new Uint8Array(half.buffer) };
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
  const fallback = fallbackNodes("all_scores", spec.fallback);
  return encode({
    name: spec.name,
    docString: spec.docString + fallback.doc,
    initializer: [...initializer, ...fallback.initializer],
    input: [valueInfo(inputs.query, INT64, [1]), valueInfo(inputs.k, INT64, [1]), valueInfo(inputs.exclude, INT64, ["n"])],
    output: rankingOutputs(outputs),
    node: [
      node("Gather", [queryTable.name, inputs.query], ["query_row"], [intAttr("axis", 0)]),
      node("Gemm", ["query_row", spec.candidates.name], ["all_scores"], [intAttr("transB", 1)]),
      ...fallback.node,
      ...rankingNodes(fallback.out, inputs, outputs),
    ],
  });
}

/**
 * The fold-in graph's interface: a history of item indices instead of a user index, and the
 * user's index too (-1: not trained on) when the fold-in has a known-user part.
 */
export interface FoldInGraphNames {
  inputs: { user?: string; history: string; k: string; exclude: string };
  outputs: { scores: string; items: string };
}

/**
 * The sum of a history's gathered rows [h x w] as [1 x w]: each row weighed by `weight` [1 x h]
 * (a matrix product) when the history is weighed, a plain sum otherwise.
 */
function historySum(rows: string, weight: string | undefined, out: string): onnxProto.onnx.INodeProto {
  return weight ? node("MatMul", [weight, rows], [out]) : node("ReduceSum", [rows, "axis0"], [out], [intAttr("keepdims", 1)]);
}

/** The propagated fold-in's user vector, named p("user_vector") [1 x dim]; `weight` as in historySum. */
function propagatedVectorNodes(f: PropagatedFoldIn, history: string, p: (name: string) => string, weight?: string): Omit<Built, "doc"> {
  // compact: the contributions are stored in float16, only the history's rows widened
  const gather = f.compact
    ? [
        node("Gather", [p("item_contribution"), history], [p("history_rows_half")], [intAttr("axis", 0)]),
        node("Cast", [p("history_rows_half")], [p("history_rows")], [intAttr("to", FLOAT)]),
      ]
    : [node("Gather", [p("item_contribution"), history], [p("history_rows")], [intAttr("axis", 0)])];
  return {
    initializer: [(f.compact ? halfTensor : floatTensor)(p("item_contribution"), f.contributions, [f.items, f.dim])],
    node: [
      ...gather,
      historySum(p("history_rows"), weight, p("history_sum")),
      node("Shape", [history], [p("history_length")]),
      node("Cast", [p("history_length")], [p("history_count")], [intAttr("to", FLOAT)]),
      node("Sqrt", [p("history_count")], [p("history_norm")]),
      node("Div", [p("history_sum"), p("history_norm")], [p("user_vector")]),
    ],
  };
}

/**
 * The graph inputs scoring reads: the history, and the user's index for known-user parts; and
 * `weight`, when a mix weighs the history by recency, the name of each entry's weight [1 x h].
 */
interface QueryInputs {
  user: string;
  history: string;
  weight?: string;
}

/**
 * Scores a float32 [1 x d] vector against int8 candidates: the vector quantized on the fly
 * (DynamicQuantizeLinear), an integer matrix product against the transposed table, then the
 * vector's scale and each item's.
 */
function int8ScoringNodes(q: CompactCandidates, items: number, d: number, vector: string, out: string, p: (name: string) => string): Omit<Built, "doc"> {
  const transposed = new Int8Array(items * d);
  for (let j = 0; j < items; j++) for (let c = 0; c < d; c++) transposed[c * items + j] = q.values[j * d + c];
  return {
    initializer: [
      { name: p("item_embedding_int8"), dataType: INT8, dims: [d, items], rawData: new Uint8Array(transposed.buffer) },
      { name: p("int8_zero"), dataType: INT8, dims: [], rawData: new Uint8Array(1) },
      floatTensor(p("item_scale"), q.scales, [items]),
    ],
    node: [
      node("DynamicQuantizeLinear", [vector], [p("vector_q"), p("vector_scale"), p("vector_zero")]),
      node("MatMulInteger", [p("vector_q"), p("item_embedding_int8"), p("vector_zero"), p("int8_zero")], [p("int_scores")]),
      node("Cast", [p("int_scores")], [p("float_scores")], [intAttr("to", FLOAT)]),
      node("Mul", [p("float_scores"), p("vector_scale")], [p("vector_scaled")]),
      node("Mul", [p("vector_scaled"), p("item_scale")], [out]),
    ],
  };
}

type Built = { initializer: onnxProto.onnx.ITensorProto[]; node: onnxProto.onnx.INodeProto[]; doc: string };

/**
 * The fold-in's constants and the nodes from the history to `out` [1 x items]. Every name but
 * the history input and axis0 carries `prefix`, so that a mix can hold several parts.
 */
function foldInScoringNodes(f: FoldIn, query: QueryInputs, out: string, prefix = ""): Built {
  const { history } = query;
  const p = (name: string): string => `${prefix}${name}`;
  const scalar = (name: string, v: number): onnxProto.onnx.ITensorProto => floatTensor(p(name), Float32Array.of(v), [1]);
  if (f.kind === "mix") return mixNodes(f, query, out, prefix);
  if (f.kind === "item-item") {
    // stored as float16 (the description's weights are already rounded to it); only the
    // history's rows are widened to float32 before they are summed
    return {
      initializer: [halfTensor(p("item_weights"), f.weights, [f.items, f.items])],
      node: [
        node("Gather", [p("item_weights"), history], [p("history_rows_half")], [intAttr("axis", 0)]),
        node("Cast", [p("history_rows_half")], [p("history_rows")], [intAttr("to", FLOAT)]),
        historySum(p("history_rows"), query.weight, out),
      ],
      doc: `EASE / item-item: the history's ${query.weight ? "weighted " : ""}indicator row times the item-item weights (float16)`,
    };
  }
  if (f.kind === "propagated") {
    const vector = propagatedVectorNodes(f, history, p, query.weight);
    if (f.compact) {
      const scoring = int8ScoringNodes(f.compact, f.items, f.dim, p("user_vector"), out, p);
      return {
        initializer: [...vector.initializer, ...scoring.initializer],
        node: [...vector.node, ...scoring.node],
        doc: "LightGCN fold-in, compact: |H|^-1/2 times the sum of the history items' propagated contributions (float16), dot every item's final embedding (int8, a scale per item)",
      };
    }
    return {
      initializer: [...vector.initializer, floatTensor(p("item_embedding"), f.candidates, [f.items, f.dim])],
      node: [...vector.node, node("Gemm", [p("user_vector"), p("item_embedding")], [out], [intAttr("transB", 1)])],
      doc: "LightGCN fold-in: |H|^-1/2 times the sum of the history items' propagated contributions, dot every item's final embedding",
    };
  }
  if (f.kind === "known-user") {
    // both vectors are computed; Where keeps the trained one for user >= 0 (Gather reads row -1
    // as the last row, a value Where then discards)
    const folded = propagatedVectorNodes(f.foldIn, history, (n) => p(`folded_${n}`), query.weight);
    return {
      initializer: [
        ...folded.initializer,
        floatTensor(p("user_embedding"), f.users, [f.users.length / f.dim, f.dim]),
        floatTensor(p("item_embedding"), f.foldIn.candidates, [f.items, f.dim]),
        int64Tensor(p("minus_one"), [-1]),
      ],
      node: [
        ...folded.node,
        node("Gather", [p("user_embedding"), query.user], [p("trained_vector")], [intAttr("axis", 0)]),
        node("Greater", [query.user, p("minus_one")], [p("is_known")]),
        node("Where", [p("is_known"), p("trained_vector"), p("folded_user_vector")], [p("user_vector")]),
        node("Gemm", [p("user_vector"), p("item_embedding")], [out], [intAttr("transB", 1)]),
      ],
      doc: "LightGCN: the trained user vector, or for user -1 the fold-in of the history, dot every item's final embedding",
    };
  }
  if (query.weight) throw new Error("fold-in graph: a least-squares part cannot weigh its history (recency is for item-item and propagated parts)");
  // Least squares: A x = b with A = gram + alpha Y_H^T Y_H and b = (1 + alpha) sum of Y_H rows,
  // solved by conjugate gradients unrolled for `dim` steps (exact in exact arithmetic; ONNX
  // has no linear solve). Vectors are [1 x d] rows; A is symmetric, so A p = p A.
  const nodes: onnxProto.onnx.INodeProto[] = [
    node("Gather", [p("item_factors"), history], [p("history_rows")], [intAttr("axis", 0)]),
    node("Transpose", [p("history_rows")], [p("history_rows_t")]),
    node("MatMul", [p("history_rows_t"), p("history_rows")], [p("history_gram")]),
    node("Mul", [p("history_gram"), p("alpha")], [p("history_gram_weighted")]),
    node("Add", [p("gram"), p("history_gram_weighted")], [p("system")]),
    node("ReduceSum", [p("history_rows"), "axis0"], [p("history_sum")], [intAttr("keepdims", 1)]),
    node("Mul", [p("history_sum"), p("one_plus_alpha")], [p("r_0")]),
    node("Mul", [p("r_0"), p("zero")], [p("x_0")]),
    node("Mul", [p("r_0"), p("r_0")], [p("rr_terms_0")]),
    node("ReduceSum", [p("rr_terms_0"), p("axis1")], [p("rr_0")], [intAttr("keepdims", 1)]),
  ];
  let dir = p("r_0");
  for (let k = 0; k < f.dim; k++) {
    const [x, r, rr, n] = [p(`x_${k}`), p(`r_${k}`), p(`rr_${k}`), k + 1];
    nodes.push(
      node("MatMul", [dir, p("system")], [p(`ap_${k}`)]),
      node("Mul", [dir, p(`ap_${k}`)], [p(`pap_terms_${k}`)]),
      node("ReduceSum", [p(`pap_terms_${k}`), p("axis1")], [p(`pap_${k}`)], [intAttr("keepdims", 1)]),
      node("Add", [p(`pap_${k}`), p("tiny")], [p(`pap_safe_${k}`)]),
      node("Div", [rr, p(`pap_safe_${k}`)], [p(`step_${k}`)]),
      node("Mul", [p(`step_${k}`), dir], [p(`dx_${k}`)]),
      node("Add", [x, p(`dx_${k}`)], [p(`x_${n}`)]),
      node("Mul", [p(`step_${k}`), p(`ap_${k}`)], [p(`dr_${k}`)]),
      node("Sub", [r, p(`dr_${k}`)], [p(`r_${n}`)]),
      node("Mul", [p(`r_${n}`), p(`r_${n}`)], [p(`rr_terms_${n}`)]),
      node("ReduceSum", [p(`rr_terms_${n}`), p("axis1")], [p(`rr_${n}`)], [intAttr("keepdims", 1)]),
      node("Add", [rr, p("tiny")], [p(`rr_safe_${k}`)]),
      node("Div", [p(`rr_${n}`), p(`rr_safe_${k}`)], [p(`beta_${k}`)]),
      node("Mul", [p(`beta_${k}`), dir], [p(`p_carry_${k}`)]),
      node("Add", [p(`r_${n}`), p(`p_carry_${k}`)], [p(`p_${n}`)]),
    );
    dir = p(`p_${n}`);
  }
  nodes.push(node("Gemm", [p(`x_${f.dim}`), p("item_factors")], [out], [intAttr("transB", 1)]));
  return {
    initializer: [
      floatTensor(p("item_factors"), f.factors, [f.items, f.dim]),
      floatTensor(p("gram"), f.gram, [f.dim, f.dim]),
      scalar("alpha", f.alpha),
      scalar("one_plus_alpha", 1 + f.alpha),
      scalar("zero", 0),
      scalar("tiny", 1e-30),
      int64Tensor(p("axis1"), [1]),
    ],
    node: nodes,
    doc: "iALS fold-in: the user's least-squares solve against the fixed item factors (conjugate gradients), dot every item's factors",
  };
}

/** Each part scored, standardized over the items (mean 0, sd 1) and weighted, then summed. */
function mixNodes(f: Extract<FoldIn, { kind: "mix" }>, query: QueryInputs, out: string, prefix: string): Built {
  const built: Built = {
    initializer: [floatTensor(`${prefix}tiny`, Float32Array.of(1e-30), [1])],
    node: [],
    doc: "",
  };
  const axes1 = { name: "axes", type: onnx.AttributeProto.AttributeType.INTS, ints: [1] };
  const weighted: string[] = [];
  const recency = f.recency ? recencyNodes(f.recency, query, prefix) : null;
  if (recency) {
    built.initializer.push(...recency.initializer);
    built.node.push(...recency.node);
  }
  const partQuery = recency ? { ...query, weight: `${prefix}history_weight` } : query;
  f.parts.forEach(({ weight, foldIn }, k) => {
    const p = (name: string): string => `${prefix}part${k}_${name}`;
    const part = foldInScoringNodes(foldIn, partQuery, p("scores"), p(""));
    built.initializer.push(...part.initializer, floatTensor(p("weight"), Float32Array.of(weight), [1]));
    built.node.push(
      ...part.node,
      node("ReduceMean", [p("scores")], [p("mean")], [axes1, intAttr("keepdims", 1)]),
      node("Sub", [p("scores"), p("mean")], [p("centered")]),
      node("Mul", [p("centered"), p("centered")], [p("squares")]),
      node("ReduceMean", [p("squares")], [p("variance")], [axes1, intAttr("keepdims", 1)]),
      node("Sqrt", [p("variance")], [p("sd")]),
      // a constant row stays all zeros, as in the reference
      node("Max", [p("sd"), `${prefix}tiny`], [p("sd_safe")]),
      node("Div", [p("centered"), p("sd_safe")], [p("standard")]),
      node("Mul", [p("standard"), p("weight")], [p("weighted")]),
    );
    weighted.push(p("weighted"));
    built.doc += `${k > 0 ? "; plus " : ""}${weight.toFixed(3)} x standardized (${part.doc})`;
  });
  built.node.push(node("Sum", weighted, [out]));
  built.doc = `A blend: ${built.doc}${recency ? `; ${recency.doc}` : ""}`;
  return built;
}

/**
 * `${prefix}history_weight` [1 x h]: exp(-r / recency) for the history entry r places before the
 * latest (the history in time order, oldest first), as recencyWeights computes it; all 1 for a
 * known user (user >= 0), whose history has no order. Weights are at most 1, so Max with
 * "is known" (1 or 0) gives exactly that.
 */
function recencyNodes(recency: number, query: QueryInputs, prefix: string): Built {
  const p = (name: string): string => `${prefix}recency_${name}`;
  const scalar = (name: string, v: number): onnxProto.onnx.ITensorProto => floatTensor(p(name), Float32Array.of(v), []);
  const nodes: onnxProto.onnx.INodeProto[] = [
    node("Shape", [query.history], [p("length_1d")]),
    node("Squeeze", [p("length_1d"), "axis0"], [p("length_int")]),
    node("Cast", [p("length_int")], [p("length")], [intAttr("to", FLOAT)]),
    node("Range", [p("zero"), p("length"), p("one")], [p("position")]),
    node("Sub", [p("length"), p("one")], [p("last")]),
    node("Sub", [p("last"), p("position")], [p("age")]),
    node("Mul", [p("age"), p("minus_inverse")], [p("exponent")]),
    node("Exp", [p("exponent")], [p("decay")]),
  ];
  let decay = p("decay");
  if (query.user) {
    nodes.push(
      node("Greater", [query.user, p("minus_one")], [p("is_known")]),
      node("Cast", [p("is_known")], [p("is_known_float")], [intAttr("to", FLOAT)]),
      node("Max", [decay, p("is_known_float")], [p("decay_or_one")]),
    );
    decay = p("decay_or_one");
  }
  nodes.push(node("Unsqueeze", [decay, "axis0"], [`${prefix}history_weight`]));
  return {
    initializer: [scalar("zero", 0), scalar("one", 1), scalar("minus_inverse", -1 / recency), int64Tensor(p("minus_one"), [-1])],
    node: nodes,
    doc: `for a user not trained on (-1), the history in time order, its entry r places before the latest weighs exp(-r / ${recency})`,
  };
}

/**
 * A top-K graph whose query is a history of item indices (the model's own items), scored by the
 * model's fold-in, and with `fallback` the catalogue's further movies scored from those scores.
 */
export function buildFoldInGraph(name: string, f: FoldIn, names: FoldInGraphNames, fallbackFile?: FallbackFile): Uint8Array {
  const { inputs, outputs } = names;
  const user = takesUser(f) ? inputs.user : undefined;
  if (takesUser(f) && !user) throw new Error(`${name}: the fold-in scores known users by their vectors, so the graph needs a user input`);
  const scoring = foldInScoringNodes(f, { user: user ?? "", history: inputs.history }, "all_scores");
  const fallback = fallbackNodes("all_scores", fallbackFile);
  return encode({
    name,
    docString: `${scoring.doc}${fallback.doc}; excluded items set to -inf, top k.`,
    initializer: [...scoring.initializer, ...fallback.initializer, int64Tensor("axis0", [0])],
    input: [
      ...(user ? [valueInfo(user, INT64, [1])] : []),
      valueInfo(inputs.history, INT64, ["h"]),
      valueInfo(inputs.k, INT64, [1]),
      valueInfo(inputs.exclude, INT64, ["n"]),
    ],
    output: rankingOutputs(outputs),
    node: [...scoring.node, ...fallback.node, ...rankingNodes(fallback.out, inputs, outputs)],
  });
}

/**
 * vector.onnx (see VECTOR_GRAPH): the propagated fold-in's user vector alone, built exactly as
 * model.onnx builds it; the Worker scores it against candidates.bin with its own kernel.
 */
export function buildVectorGraph(name: string, f: PropagatedFoldIn, names: typeof VECTOR_GRAPH): Uint8Array {
  const built = propagatedVectorNodes(f, names.inputs.history, (n) => `fold_${n}`);
  return encode({
    name,
    docString: "The user vector of a history: |H|^-1/2 times the sum of the history items' propagated contributions.",
    initializer: [...built.initializer, int64Tensor("axis0", [0])],
    input: [valueInfo(names.inputs.history, INT64, ["h"])],
    output: [valueInfo(names.outputs.vector, FLOAT, [1, f.dim])],
    node: [...built.node, node("Identity", ["fold_user_vector"], [names.outputs.vector])],
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

/** The int8 table's initializers, shared by the compact similar and because graphs (transposed, d x rows). */
function int8Table(q: CompactCandidates, rows: number, d: number, name: string): onnxProto.onnx.ITensorProto[] {
  const transposed = new Int8Array(rows * d);
  for (let j = 0; j < rows; j++) for (let c = 0; c < d; c++) transposed[c * rows + j] = q.values[j * d + c];
  return [{ name, dataType: INT8, dims: [d, rows], rawData: new Uint8Array(transposed.buffer) }, floatTensor(`${name}_scale`, q.scales, [rows])];
}

/** Rows `indices` of the int8 table, widened and scaled: [d x n] floats. */
function int8Columns(table: string, scales: string, indices: string, out: string): onnxProto.onnx.INodeProto[] {
  return [
    node("Gather", [table, indices], [`${out}_int8`], [intAttr("axis", 1)]),
    node("Cast", [`${out}_int8`], [`${out}_unscaled`], [intAttr("to", FLOAT)]),
    node("Gather", [scales, indices], [`${out}_scale`], [intAttr("axis", 0)]),
    node("Mul", [`${out}_unscaled`, `${out}_scale`], [out]),
  ];
}

/**
 * The similar-items graph over an int8 table of normalized embeddings (a scale per row): the
 * query row widened, then scored against every row in int8 (see int8ScoringNodes).
 */
export function buildCompactSimilarGraph(name: string, q: CompactCandidates, rows: number, d: number, names: typeof SIMILAR_GRAPH): Uint8Array {
  const { inputs, outputs } = names;
  const scoring = int8ScoringNodes(q, rows, d, "query_vector", "all_scores", (n) => n);
  return encode({
    name,
    docString:
      "Cosine similarity of one item's embedding with every item's, from int8 normalized embeddings with a scale per item, excluding the given items, top k.",
    initializer: [...scoring.initializer, int64Tensor("axis0", [0])],
    input: [valueInfo(inputs.query, INT64, [1]), valueInfo(inputs.k, INT64, [1]), valueInfo(inputs.exclude, INT64, ["n"])],
    output: rankingOutputs(outputs),
    node: [
      ...int8Columns("item_embedding_int8", "item_scale", inputs.query, "query_column"),
      node("Transpose", ["query_column"], ["query_vector"]),
      ...scoring.node,
      ...rankingNodes("all_scores", inputs, outputs),
    ],
  });
}

/** The because graph (see BECAUSE_GRAPH) over an int8 table of normalized embeddings. */
export function buildCompactBecauseGraph(name: string, q: CompactCandidates, rows: number, d: number, names: typeof BECAUSE_GRAPH): Uint8Array {
  const { inputs, outputs } = names;
  return encode({
    name,
    docString:
      "For each recommended item, the most similar history item by cosine of int8 normalized embeddings: its position in the history and the similarity.",
    initializer: int8Table(q, rows, d, "table"),
    input: [valueInfo(inputs.items, INT64, ["k"]), valueInfo(inputs.history, INT64, ["h"])],
    output: [valueInfo(outputs.position, INT64, ["k"]), valueInfo(outputs.similarity, FLOAT, ["k"])],
    node: [
      ...int8Columns("table", "table_scale", inputs.items, "item_columns"),
      node("Transpose", ["item_columns"], ["item_rows"]),
      ...int8Columns("table", "table_scale", inputs.history, "history_columns"),
      node("MatMul", ["item_rows", "history_columns"], ["cosines"]),
      node("ArgMax", ["cosines"], [outputs.position], [intAttr("axis", 1), intAttr("keepdims", 0), intAttr("select_last_index", 0)]),
      node("ReduceMax", ["cosines"], [outputs.similarity], [{ name: "axes", type: onnx.AttributeProto.AttributeType.INTS, ints: [1] }, intAttr("keepdims", 0)]),
    ],
  });
}
