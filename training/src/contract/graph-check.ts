// The structure every graph must have before ONNX Runtime is handed it. Why here, and not left to
// ORT: onnxruntime-web (1.30) keeps about the graph's size of its wasm memory each time it refuses
// a graph past the protobuf parse (an unknown operator or domain, an unsupported IR or opset, an
// initializer whose data does not fit its shape, a type error), and a wasm memory never shrinks,
// so an isolate that met such a bundle again and again grew until it was killed (`npm run
// bench:failed-loads`, docs/trust.md#failed-loads). Our graphs come from our own exporter
// (training/src/export/onnx-graph.ts), so the contract knows what they hold: ONNX IR 8, the default
// operator set at version 13, a known list of operators, initializers whose data matches their
// dims, and every value defined before a node reads it. Anything else is refused here, at publish
// and at load, before any session exists.
import type { OnnxSummary } from "./onnx-summary.ts";

/** The ONNX format the exporter writes, and the one onnxruntime-web was checked against. */
export const GRAPH_FORMAT = { irVersion: 8, opset: 13 } as const;

/**
 * Operators a graph may use (default domain, opset 13): the ones the exporter emits, and a few
 * more of ORT's CPU operators that a graph computing scores, masks or filters may need. A new
 * operator in the exporter goes here too (training/test/graph-check.test.ts exports every kind of
 * graph and fails until it does).
 */
export const GRAPH_OPERATORS: ReadonlySet<string> = new Set([
  // emitted by training/src/export/onnx-graph.ts
  "Add",
  "ArgMax",
  "Cast",
  "Concat",
  "ConstantOfShape",
  "Div",
  "DynamicQuantizeLinear",
  "Gather",
  "Gemm",
  "Greater",
  "Identity",
  "MatMul",
  "MatMulInteger",
  "Max",
  "Mul",
  "ReduceMax",
  "ReduceMean",
  "ReduceSum",
  "ScatterElements",
  "Shape",
  "Sqrt",
  "Sub",
  "Sum",
  "TopK",
  "Transpose",
  "Unsqueeze",
  "Where",
  // element-wise, logical, shape and indexing operators of the same kind
  "Abs",
  "And",
  "ArgMin",
  "Clip",
  "Constant",
  "Equal",
  "Exp",
  "Expand",
  "Flatten",
  "GatherElements",
  "GreaterOrEqual",
  "Less",
  "LessOrEqual",
  "Log",
  "Min",
  "Neg",
  "Not",
  "Or",
  "Pow",
  "Range",
  "ReduceMin",
  "Reshape",
  "ScatterND",
  "Sigmoid",
  "Slice",
  "Softmax",
  "Squeeze",
  "Tile",
]);

/** Bytes per element of the tensor types a graph may hold (TensorProto.DataType). */
const ELEMENT_BYTES: ReadonlyMap<number, number> = new Map([
  [1, 4], // FLOAT
  [2, 1], // UINT8
  [3, 1], // INT8
  [4, 2], // UINT16
  [5, 2], // INT16
  [6, 4], // INT32
  [7, 8], // INT64
  [9, 1], // BOOL
  [10, 2], // FLOAT16
  [11, 8], // DOUBLE
  [12, 4], // UINT32
  [13, 8], // UINT64
  [16, 2], // BFLOAT16
]);

const MAX_LISTED = 3;
const DEFAULT_DOMAINS = new Set(["", "ai.onnx"]);
const FIX = "re-export the model with `npm run export` (or `npm run train`)";

const listed = (names: Iterable<string>): string => {
  const all = [...new Set(names)];
  return all.slice(0, MAX_LISTED).join(", ") + (all.length > MAX_LISTED ? ` and ${all.length - MAX_LISTED} more` : "");
};

function formatProblems(s: OnnxSummary): string[] {
  const problems: string[] = [];
  if (s.irVersion !== GRAPH_FORMAT.irVersion) problems.push(`is ONNX IR version ${s.irVersion}, edgerec graphs are IR ${GRAPH_FORMAT.irVersion}; ${FIX}`);
  const opsets = [...s.opsets].map(([domain, version]) => ({ domain, version }));
  const foreign = opsets.filter((o) => !DEFAULT_DOMAINS.has(o.domain));
  if (foreign.length > 0)
    problems.push(
      `imports the operator set${foreign.length > 1 ? "s" : ""} ${listed(foreign.map((o) => `"${o.domain}"`))}, edgerec graphs use the default one only`,
    );
  const standard = opsets.filter((o) => DEFAULT_DOMAINS.has(o.domain));
  if (standard.length !== 1 || standard[0].version !== GRAPH_FORMAT.opset)
    problems.push(
      `imports ${standard.length === 0 ? "no default operator set" : `default operator set ${listed(standard.map((o) => String(o.version)))}`}, edgerec graphs use opset ${GRAPH_FORMAT.opset}; ${FIX}`,
    );
  if (s.unsupported.length > 0) problems.push(`holds ${listed(s.unsupported)}, which edgerec graphs never do`);
  return problems;
}

function nodeProblems(s: OnnxSummary): string[] {
  const problems: string[] = [];
  const foreign = s.nodes.filter((n) => !DEFAULT_DOMAINS.has(n.domain));
  if (foreign.length > 0) problems.push(`has operators of the domain${foreign.length > 1 ? "s" : ""} ${listed(foreign.map((n) => `"${n.domain}"`))}`);
  const unknown = s.nodes.filter((n) => DEFAULT_DOMAINS.has(n.domain) && !GRAPH_OPERATORS.has(n.opType));
  if (unknown.length > 0)
    problems.push(`uses the operator${unknown.length > 1 ? "s" : ""} ${listed(unknown.map((n) => `"${n.opType}"`))}, which edgerec graphs never use`);
  // every value defined once: by an input, an initializer or one node's output
  const defined = new Set<string>([...s.inputs.keys()]);
  const twice = new Set<string>();
  for (const name of [...s.initializerNames, ...s.nodes.flatMap((n) => n.outputs.filter((o) => o !== ""))]) {
    if (defined.has(name)) twice.add(name);
    defined.add(name);
  }
  if (twice.size > 0) problems.push(`defines ${listed([...twice].map((n) => `"${n}"`))} more than once`);
  const undefinedReads = s.nodes.flatMap((n) => n.inputs.filter((i) => i !== "" && !defined.has(i)));
  if (undefinedReads.length > 0) problems.push(`has nodes reading ${listed(undefinedReads.map((n) => `"${n}"`))}, which nothing defines`);
  const undefinedOutputs = s.outputs.filter((o) => !defined.has(o));
  if (undefinedOutputs.length > 0)
    problems.push(`declares the output${undefinedOutputs.length > 1 ? "s" : ""} ${listed(undefinedOutputs.map((n) => `"${n}"`))}, which nothing computes`);
  return problems;
}

/** Each initializer's data: a known element type, held in the file, exactly as many values as its dims say. */
function dataProblems(s: OnnxSummary): string[] {
  const problems: string[] = [];
  for (const [name, data] of s.initializerData) {
    const dims = s.initializers.get(name) ?? [];
    const values = dims.reduce((n, d) => n * d, 1);
    const size = ELEMENT_BYTES.get(data.dataType);
    if (data.external) problems.push(`table ${name} keeps its data in an external file`);
    else if (size === undefined) problems.push(`table ${name} has element type ${data.dataType}, which edgerec graphs never hold`);
    else if (data.rawBytes !== null ? data.rawBytes !== values * size || data.typedValues > 0 : data.typedValues !== values)
      problems.push(
        `table ${name} is ${dims.join(" x ") || "a scalar"} (${values} values) but holds ${data.rawBytes !== null ? `${data.rawBytes} bytes` : `${data.typedValues} values`}`,
      );
    if (problems.length >= MAX_LISTED) break;
  }
  return problems;
}

/**
 * What keeps a graph from being one edgerec serves, each a phrase that follows the file's name
 * (empty: nothing): its format, its operators, its values' definitions and its tables' data.
 */
export function graphProblems(summary: OnnxSummary): string[] {
  return [...formatProblems(summary), ...nodeProblems(summary), ...dataProblems(summary)];
}
