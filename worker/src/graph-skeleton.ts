// A graph's skeleton: the same model with its large tables turned into graph inputs of the same
// element type and shape, so a few kilobytes instead of megabytes. ONNX Runtime checks a skeleton
// as it checks the graph (operators, attributes, types and shapes: the tables' types and shapes
// are declared), and what it keeps of its wasm memory when it refuses one is the skeleton's size,
// not the graph's (graph-refusals.ts). Written by hand over the protobuf bytes: every field but
// the dropped tables is copied as it is.
import { type Field, GRAPH_INITIALIZER, GRAPH_INPUT, MODEL_GRAPH, fields, initializer } from "../../training/src/contract/onnx-summary.ts";
import { WIRE_LEN, key, tensorValue, varint } from "./onnx-write.ts";

/** Tables up to this size stay (axes, scalars: shape inference may read their values). */
const KEPT_TABLE_BYTES = 1024;

/**
 * The model with every table larger than 1 KB made a graph input, or null when it has none (the
 * skeleton would be the graph). Throws on bytes that are not an ONNX model.
 */
export function graphSkeleton(model: Uint8Array): Uint8Array | null {
  let graph: Field | null = null;
  for (const f of fields(model, 0, model.length)) if (f.number === MODEL_GRAPH && f.wire === WIRE_LEN) graph = f;
  if (!graph) throw new Error("not an ONNX graph: no graph in the model");
  const declared = new Set<string>();
  const dropped: Field[] = [];
  const inputs: number[] = [];
  const moved: ReturnType<typeof initializer>[] = [];
  for (const f of fields(model, graph.start, graph.end)) {
    if (f.wire !== WIRE_LEN) continue;
    if (f.number === GRAPH_INPUT) {
      for (const v of fields(model, f.start, f.end))
        if (v.number === 1 && v.wire === WIRE_LEN) declared.add(new TextDecoder().decode(model.subarray(v.start, v.end)));
    } else if (f.number === GRAPH_INITIALIZER && f.end - f.start > KEPT_TABLE_BYTES) {
      dropped.push(f);
      moved.push(initializer(model, f));
    }
  }
  if (dropped.length === 0) return null;
  // older exporters list initializers among the inputs too: those are declared already
  for (const t of moved) if (!declared.has(t.name)) inputs.push(...tensorValue(GRAPH_INPUT, t.name, t.data.dataType, t.dims));
  const kept: Uint8Array[] = [];
  let at = graph.start;
  for (const f of dropped) {
    kept.push(model.subarray(at, f.from));
    at = f.end;
  }
  kept.push(model.subarray(at, graph.end), Uint8Array.from(inputs));
  const payload = kept.reduce((n, part) => n + part.length, 0);
  const head = Uint8Array.from([...key(MODEL_GRAPH, WIRE_LEN), ...varint(payload)]);
  const out = new Uint8Array(graph.from + head.length + payload + (model.length - graph.end));
  out.set(model.subarray(0, graph.from), 0);
  let p = graph.from;
  for (const part of [head, ...kept]) {
    out.set(part, p);
    p += part.length;
  }
  out.set(model.subarray(graph.end), p);
  return out;
}
