// Writing ONNX protobuf bytes by hand (the Worker has no protobuf library: protobufjs compiles
// code with eval, which Workers forbid): the few field encoders that graph-skeleton.ts and
// ort-start.ts need. Field numbers are onnx.proto's (ONNX 1.10).

const WIRE_VARINT = 0;
const WIRE_LEN = 2;

export function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

export const key = (number: number, wire: number): number[] => varint(number * 8 + wire);
export const lengthDelimited = (number: number, payload: number[]): number[] => [...key(number, WIRE_LEN), ...varint(payload.length), ...payload];
export const varintField = (number: number, value: number): number[] => [...key(number, WIRE_VARINT), ...varint(value)];
export const text = (number: number, value: string): number[] => lengthDelimited(number, [...new TextEncoder().encode(value)]);
export { WIRE_LEN, WIRE_VARINT };

/**
 * A graph input or output (field `number` of GraphProto): ValueInfoProto { name, type: TypeProto
 * { tensor_type { elem_type, shape { dim { dim_value } ... } } } }.
 */
export function tensorValue(number: number, name: string, dataType: number, dims: number[]): number[] {
  const shape = dims.flatMap((d) => lengthDelimited(1, varintField(1, d)));
  const tensor = [...varintField(1, dataType), ...lengthDelimited(2, shape)];
  return lengthDelimited(number, [...text(1, name), ...lengthDelimited(2, lengthDelimited(1, tensor))]);
}
