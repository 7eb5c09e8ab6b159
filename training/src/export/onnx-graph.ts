// ONNX top-K scoring graphs, built with the ONNX protobuf schema (onnx-proto), never by hand:
// given a query row index, k and a list of candidate indices to exclude, score every
// candidate by dot product with the query's row, set the excluded ones to -inf, return the
// top k (scores and indices, best first).
import onnxProto from "onnx-proto";

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

export function buildTopKGraph(spec: TopKGraphSpec): Uint8Array {
  const { dim, inputs, outputs } = spec;
  const queryTable = spec.queries ?? spec.candidates;
  const initializer = [
    floatTensor(spec.candidates.name, spec.candidates.data, [spec.candidates.rows, dim]),
    int64Tensor("axis0", [0]),
  ];
  if (spec.queries) initializer.push(floatTensor(spec.queries.name, spec.queries.data, [spec.queries.rows, dim]));
  const graph: onnxProto.onnx.IGraphProto = {
    name: spec.name,
    docString: spec.docString,
    initializer,
    input: [
      valueInfo(inputs.query, INT64, [1]),
      valueInfo(inputs.k, INT64, [1]),
      valueInfo(inputs.exclude, INT64, ["n"]),
    ],
    output: [
      valueInfo(outputs.scores, FLOAT, [1, "k"]),
      valueInfo(outputs.items, INT64, [1, "k"]),
    ],
    node: [
      node("Gather", [queryTable.name, inputs.query], ["query_row"], [intAttr("axis", 0)]),
      node("Gemm", ["query_row", spec.candidates.name], ["all_scores"], [intAttr("transB", 1)]),
      node("Unsqueeze", [inputs.exclude, "axis0"], ["exclude_row"]),
      node("Shape", ["exclude_row"], ["exclude_shape"]),
      node("ConstantOfShape", ["exclude_shape"], ["minus_inf"], [
        { name: "value", type: onnx.AttributeProto.AttributeType.TENSOR, t: floatTensor("", Float32Array.of(Number.NEGATIVE_INFINITY), [1]) },
      ]),
      node("ScatterElements", ["all_scores", "exclude_row", "minus_inf"], ["masked_scores"], [intAttr("axis", 1)]),
      node("TopK", ["masked_scores", inputs.k], [outputs.scores, outputs.items], [intAttr("axis", 1), intAttr("largest", 1), intAttr("sorted", 1)]),
    ],
  };
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET }],
    producerName: "edgerec",
    producerVersion: "1",
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}
