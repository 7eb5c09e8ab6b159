// The names and shapes an ONNX graph declares (its inputs and its initializers), read straight
// from the protobuf bytes. Pure and dependency-free so the Worker can check a bundle's graphs at
// load without a protobuf library (protobufjs compiles code with eval, which Workers forbid),
// and cheap: the tensors' data fields are skipped by their length, never decoded.

/** A dimension: a number, or a symbolic name such as "n" (a graph input of any length). */
export type OnnxDim = number | string;

export interface OnnxSummary {
  /** Graph inputs (initializers excluded) by name, with their declared shapes. */
  inputs: Map<string, OnnxDim[]>;
  /** Initializers by name, with their dims. */
  initializers: Map<string, number[]>;
}

// Field numbers of onnx.proto (ONNX 1.10).
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const TENSOR_DIMS = 1;
const TENSOR_NAME = 8;
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

interface Field {
  number: number;
  wire: number;
  /** The varint's value (wire type 0). */
  value: number;
  /** The payload's [start, end) (wire type 2). */
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
function* fields(bytes: Uint8Array, start: number, end: number): Generator<Field> {
  let p = start;
  while (p < end) {
    const [key, afterKey] = varint(bytes, p);
    const number = Math.floor(key / 8);
    const wire = key % 8;
    p = afterKey;
    if (wire === WIRE_VARINT) {
      const [value, next] = varint(bytes, p);
      yield { number, wire, value, start: p, end: next };
      p = next;
    } else if (wire === WIRE_LEN) {
      const [length, next] = varint(bytes, p);
      if (next + length > end) throw new Error("not an ONNX graph: a field runs past its message");
      yield { number, wire, value: length, start: next, end: next + length };
      p = next + length;
    } else if (wire === WIRE_I64 || wire === WIRE_I32) {
      p += wire === WIRE_I64 ? 8 : 4;
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

function initializer(bytes: Uint8Array, message: Field): { name: string; dims: number[] } {
  let name = "";
  const dims: number[] = [];
  for (const f of fields(bytes, message.start, message.end)) {
    if (f.number === TENSOR_NAME && f.wire === WIRE_LEN) name = text(bytes, f);
    if (f.number === TENSOR_DIMS) dims.push(...dimensions(bytes, f));
  }
  return { name, dims };
}

/** The graph's declared inputs and initializers; throws when the bytes are not an ONNX model. */
export function onnxSummary(model: Uint8Array | ArrayBuffer): OnnxSummary {
  const bytes = model instanceof Uint8Array ? model : new Uint8Array(model);
  const inputs = new Map<string, OnnxDim[]>();
  const initializers = new Map<string, number[]>();
  let graphs = 0;
  for (const g of fields(bytes, 0, bytes.length)) {
    if (g.number !== MODEL_GRAPH || g.wire !== WIRE_LEN) continue;
    graphs++;
    for (const f of fields(bytes, g.start, g.end)) {
      if (f.wire !== WIRE_LEN) continue;
      if (f.number === GRAPH_INPUT) {
        const { name, shape } = valueInfo(bytes, f);
        inputs.set(name, shape);
      } else if (f.number === GRAPH_INITIALIZER) {
        const { name, dims } = initializer(bytes, f);
        initializers.set(name, dims);
      }
    }
  }
  if (graphs !== 1) throw new Error(`not an ONNX graph: ${graphs} graphs in the model`);
  // older exporters list initializers among the inputs too: only true inputs are fed
  for (const name of initializers.keys()) inputs.delete(name);
  return { inputs, initializers };
}
