// What an ONNX graph declares (its format, inputs, outputs, nodes and initializers), read straight
// from the protobuf bytes. Pure and dependency-free so the Worker can check a bundle's graphs at
// load without a protobuf library (protobufjs compiles code with eval, which Workers forbid),
// and cheap: the tensors' data fields are measured by their length, never decoded.

/** A dimension: a number, or a symbolic name such as "n" (a graph input of any length). */
export type OnnxDim = number | string;

/** A node: which operator, and the values it reads and writes (by name; "" is an omitted input). */
export interface OnnxNode {
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
}

/** An initializer's element type and how much data it carries, by where the data lies. */
export interface OnnxTensorData {
  /** TensorProto.DataType (0: not set). */
  dataType: number;
  /** Bytes of raw_data (field 9), or null when the tensor has none. */
  rawBytes: number | null;
  /** Values in the typed fields (float_data, int32_data, int64_data, double_data, uint64_data). */
  typedValues: number;
  /** string_data entries (string tensors). */
  strings: number;
  /** The data lies in an external file (data_location EXTERNAL, or external_data entries). */
  external: boolean;
}

export interface OnnxSummary {
  /** Graph inputs (initializers excluded) by name, with their declared shapes. */
  inputs: Map<string, OnnxDim[]>;
  /** Initializers by name, with their dims. */
  initializers: Map<string, number[]>;
  /** Initializers by name: element type and data size (same order as `initializers`). */
  initializerData: Map<string, OnnxTensorData>;
  /** Every initializer's name, repeats included (a Map keeps one). */
  initializerNames: string[];
  /** The graph's outputs, by name. */
  outputs: string[];
  /** The nodes, in order. */
  nodes: OnnxNode[];
  /** ModelProto.ir_version (0: not set). */
  irVersion: number;
  /** The operator sets imported: domain ("" the default) -> version. */
  opsets: Map<string, number>;
  /** Parts no edgerec graph has: sparse initializers, model-local functions, training info. */
  unsupported: string[];
}

// Field numbers of onnx.proto (ONNX 1.10).
const MODEL_IR_VERSION = 1;
export const MODEL_GRAPH = 7;
const MODEL_OPSET_IMPORT = 8;
const MODEL_TRAINING_INFO = 20;
const MODEL_FUNCTIONS = 25;
const OPSET_DOMAIN = 1;
const OPSET_VERSION = 2;
const GRAPH_NODE = 1;
export const GRAPH_INITIALIZER = 5;
export const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const GRAPH_SPARSE_INITIALIZER = 15;
const NODE_INPUT = 1;
const NODE_OUTPUT = 2;
const NODE_OP_TYPE = 4;
const NODE_DOMAIN = 7;
const TENSOR_DIMS = 1;
const TENSOR_DATA_TYPE = 2;
const TENSOR_FLOAT_DATA = 4;
const TENSOR_INT32_DATA = 5;
const TENSOR_STRING_DATA = 6;
const TENSOR_INT64_DATA = 7;
const TENSOR_NAME = 8;
const TENSOR_RAW_DATA = 9;
const TENSOR_DOUBLE_DATA = 10;
const TENSOR_UINT64_DATA = 11;
const TENSOR_EXTERNAL_DATA = 13;
const TENSOR_DATA_LOCATION = 14;
const DATA_LOCATION_EXTERNAL = 1;
const VALUE_NAME = 1;
const VALUE_TYPE = 2;
const TYPE_TENSOR = 1;
const TENSOR_TYPE_SHAPE = 2;
const SHAPE_DIM = 1;
const DIM_VALUE = 1;
const DIM_PARAM = 2;

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** One field of a protobuf message. */
export interface Field {
  number: number;
  wire: number;
  /** Where the field's key starts (the whole field is [from, end)). */
  from: number;
  /** The varint's value (wire type 0). */
  value: number;
  /** The payload's [start, end): the varint, the fixed-width value, or the length-delimited bytes. */
  start: number;
  end: number;
}

/** Reads a base-128 varint at `at`; numbers past 2^53 lose precision, which no shape reaches. */
function varint(bytes: Uint8Array, at: number): [value: number, next: number] {
  let value = 0;
  let scale = 1;
  for (let p = at; p < bytes.length && p < at + 10; p++) {
    value += (bytes[p] & 0x7f) * scale;
    if ((bytes[p] & 0x80) === 0) return [value, p + 1];
    scale *= 128;
  }
  throw new Error("not an ONNX graph: a truncated varint");
}

/** The fields of the message in bytes [start, end), in order. */
export function* fields(bytes: Uint8Array, start: number, end: number): Generator<Field> {
  let p = start;
  while (p < end) {
    const from = p;
    const [key, afterKey] = varint(bytes, p);
    const number = Math.floor(key / 8);
    const wire = key % 8;
    p = afterKey;
    if (wire === WIRE_VARINT) {
      const [value, next] = varint(bytes, p);
      yield { number, wire, from, value, start: p, end: next };
      p = next;
    } else if (wire === WIRE_LEN) {
      const [length, next] = varint(bytes, p);
      if (next + length > end) throw new Error("not an ONNX graph: a field runs past its message");
      yield { number, wire, from, value: length, start: next, end: next + length };
      p = next + length;
    } else if (wire === WIRE_I64 || wire === WIRE_I32) {
      const next = p + (wire === WIRE_I64 ? 8 : 4);
      if (next > end) throw new Error("not an ONNX graph: a field runs past its message");
      yield { number, wire, from, value: 0, start: p, end: next };
      p = next;
    } else {
      throw new Error(`not an ONNX graph: wire type ${wire}`);
    }
  }
  if (p !== end) throw new Error("not an ONNX graph: a field runs past its message");
}

const text = (bytes: Uint8Array, f: Field): string => new TextDecoder().decode(bytes.subarray(f.start, f.end));

/** A dimension's value may be negative (two's complement in ten bytes): shapes never are. */
function dimensions(bytes: Uint8Array, f: Field): number[] {
  if (f.wire === WIRE_VARINT) return [f.value];
  if (f.wire !== WIRE_LEN) throw new Error("not an ONNX graph: a tensor's dims are not integers");
  const out: number[] = [];
  for (let p = f.start; p < f.end; ) {
    const [v, next] = varint(bytes, p);
    out.push(v);
    p = next;
  }
  return out;
}

function valueInfo(bytes: Uint8Array, message: Field): { name: string; shape: OnnxDim[] } {
  let name = "";
  const shape: OnnxDim[] = [];
  for (const f of fields(bytes, message.start, message.end)) {
    if (f.number === VALUE_NAME && f.wire === WIRE_LEN) name = text(bytes, f);
    if (f.number !== VALUE_TYPE || f.wire !== WIRE_LEN) continue;
    for (const t of fields(bytes, f.start, f.end)) {
      if (t.number !== TYPE_TENSOR || t.wire !== WIRE_LEN) continue;
      for (const s of fields(bytes, t.start, t.end)) {
        if (s.number !== TENSOR_TYPE_SHAPE || s.wire !== WIRE_LEN) continue;
        for (const d of fields(bytes, s.start, s.end)) {
          if (d.number !== SHAPE_DIM || d.wire !== WIRE_LEN) continue;
          let dim: OnnxDim = "?";
          for (const v of fields(bytes, d.start, d.end)) {
            if (v.number === DIM_VALUE && v.wire === WIRE_VARINT) dim = v.value;
            if (v.number === DIM_PARAM && v.wire === WIRE_LEN) dim = text(bytes, v);
          }
          shape.push(dim);
        }
      }
    }
  }
  return { name, shape };
}

/** How many values a typed data field holds: packed (one length-delimited run) or one per field. */
function typedCount(bytes: Uint8Array, f: Field, fixedBytes: number | null): number {
  if (f.wire !== WIRE_LEN) return 1;
  if (fixedBytes !== null) return Math.floor((f.end - f.start) / fixedBytes);
  let n = 0;
  for (let p = f.start; p < f.end; n++) p = varint(bytes, p)[1];
  return n;
}

/** An initializer (a TensorProto field): its name, dims, element type and data size. */
export function initializer(bytes: Uint8Array, message: Field): { name: string; dims: number[]; data: OnnxTensorData } {
  let name = "";
  const dims: number[] = [];
  const data: OnnxTensorData = { dataType: 0, rawBytes: null, typedValues: 0, strings: 0, external: false };
  for (const f of fields(bytes, message.start, message.end)) {
    if (f.number === TENSOR_NAME && f.wire === WIRE_LEN) name = text(bytes, f);
    else if (f.number === TENSOR_DIMS) dims.push(...dimensions(bytes, f));
    else if (f.number === TENSOR_DATA_TYPE && f.wire === WIRE_VARINT) data.dataType = f.value;
    else if (f.number === TENSOR_RAW_DATA && f.wire === WIRE_LEN) data.rawBytes = f.end - f.start;
    else if (f.number === TENSOR_FLOAT_DATA) data.typedValues += typedCount(bytes, f, 4);
    else if (f.number === TENSOR_DOUBLE_DATA) data.typedValues += typedCount(bytes, f, 8);
    else if (f.number === TENSOR_INT32_DATA || f.number === TENSOR_INT64_DATA || f.number === TENSOR_UINT64_DATA)
      data.typedValues += typedCount(bytes, f, null);
    else if (f.number === TENSOR_STRING_DATA) data.strings++;
    else if (f.number === TENSOR_EXTERNAL_DATA) data.external = true;
    else if (f.number === TENSOR_DATA_LOCATION && f.wire === WIRE_VARINT && f.value === DATA_LOCATION_EXTERNAL) data.external = true;
  }
  return { name, dims, data };
}

function node(bytes: Uint8Array, message: Field): OnnxNode {
  const n: OnnxNode = { opType: "", domain: "", inputs: [], outputs: [] };
  for (const f of fields(bytes, message.start, message.end)) {
    if (f.wire !== WIRE_LEN) continue;
    if (f.number === NODE_INPUT) n.inputs.push(text(bytes, f));
    else if (f.number === NODE_OUTPUT) n.outputs.push(text(bytes, f));
    else if (f.number === NODE_OP_TYPE) n.opType = text(bytes, f);
    else if (f.number === NODE_DOMAIN) n.domain = text(bytes, f);
  }
  return n;
}

function opset(bytes: Uint8Array, message: Field): [domain: string, version: number] {
  let domain = "";
  let version = 0;
  for (const f of fields(bytes, message.start, message.end)) {
    if (f.number === OPSET_DOMAIN && f.wire === WIRE_LEN) domain = text(bytes, f);
    if (f.number === OPSET_VERSION && f.wire === WIRE_VARINT) version = f.value;
  }
  return [domain, version];
}

/** What the graph declares; throws when the bytes are not an ONNX model. */
export function onnxSummary(model: Uint8Array | ArrayBuffer): OnnxSummary {
  const bytes = model instanceof Uint8Array ? model : new Uint8Array(model);
  const summary: OnnxSummary = {
    inputs: new Map(),
    initializers: new Map(),
    initializerData: new Map(),
    initializerNames: [],
    outputs: [],
    nodes: [],
    irVersion: 0,
    opsets: new Map(),
    unsupported: [],
  };
  let graphs = 0;
  for (const g of fields(bytes, 0, bytes.length)) {
    if (g.number === MODEL_IR_VERSION && g.wire === WIRE_VARINT) summary.irVersion = g.value;
    else if (g.number === MODEL_OPSET_IMPORT && g.wire === WIRE_LEN) summary.opsets.set(...opset(bytes, g));
    else if (g.number === MODEL_FUNCTIONS) summary.unsupported.push("model-local functions");
    else if (g.number === MODEL_TRAINING_INFO) summary.unsupported.push("training information");
    if (g.number !== MODEL_GRAPH || g.wire !== WIRE_LEN) continue;
    graphs++;
    for (const f of fields(bytes, g.start, g.end)) {
      if (f.wire !== WIRE_LEN) continue;
      if (f.number === GRAPH_INPUT) {
        const { name, shape } = valueInfo(bytes, f);
        summary.inputs.set(name, shape);
      } else if (f.number === GRAPH_INITIALIZER) {
        const { name, dims, data } = initializer(bytes, f);
        summary.initializers.set(name, dims);
        summary.initializerData.set(name, data);
        summary.initializerNames.push(name);
      } else if (f.number === GRAPH_OUTPUT) summary.outputs.push(valueInfo(bytes, f).name);
      else if (f.number === GRAPH_NODE) summary.nodes.push(node(bytes, f));
      else if (f.number === GRAPH_SPARSE_INITIALIZER) summary.unsupported.push("sparse initializers");
    }
  }
  if (graphs !== 1) throw new Error(`not an ONNX graph: ${graphs} graphs in the model`);
  // older exporters list initializers among the inputs too: only true inputs are fed
  for (const name of summary.initializers.keys()) summary.inputs.delete(name);
  return summary;
}
