// Broken ONNX graphs for the failed-load benches (bench:failed-loads, bench:abuse), each made from a
// good exported graph: bytes a bad export, a damaged upload or a hand-written bundle could publish
// with matching checksums. The contract's check refuses the first four before ONNX Runtime sees
// them; ORT itself refuses the last, which the check passes.
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;
type Model = ReturnType<typeof onnx.ModelProto.decode>;

function changed(graph: Uint8Array, change: (m: Model) => void): Uint8Array {
  const m = onnx.ModelProto.decode(graph);
  change(m);
  return onnx.ModelProto.encode(m).finish();
}

/** As many bytes as the graph, from a fixed generator: not a protobuf. */
export function randomBytes(graph: Uint8Array): Uint8Array {
  let x = 0x9e3779b9;
  return Uint8Array.from({ length: graph.byteLength }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x >>> 24;
  });
}

/** The first half of the graph. */
export const truncated = (graph: Uint8Array): Uint8Array => graph.slice(0, graph.byteLength >> 1);

/** A valid protobuf whose TopK operators are called TopX, an operator ONNX does not have. */
export const unknownOperator = (graph: Uint8Array): Uint8Array =>
  changed(graph, (m) => {
    for (const n of m.graph?.node ?? []) if (n.opType === "TopK") n.opType = "TopX";
  });

/** A valid graph whose first input is renamed (everywhere it is read): not what the Worker feeds. */
export const wrongInputNames = (graph: Uint8Array): Uint8Array =>
  changed(graph, (m) => {
    const input = m.graph!.input![0];
    const name = input.name!;
    input.name = `${name}_renamed`;
    for (const n of m.graph!.node ?? []) n.input = n.input!.map((i) => (i === name ? `${name}_renamed` : i));
  });

/**
 * A graph whose TopK runs along an axis its scores do not have: the contract's check passes it,
 * ONNX Runtime refuses it (shape inference). `tag` makes distinct bytes (the doc string).
 */
export const refusedByOrt = (graph: Uint8Array, tag = ""): Uint8Array =>
  changed(graph, (m) => {
    const topK = m.graph!.node!.find((n) => n.opType === "TopK");
    if (!topK) throw new Error("the graph has no TopK to break");
    topK.attribute!.find((a) => a.name === "axis")!.i = 7;
    if (tag) m.graph!.docString = `${m.graph!.docString ?? ""} (${tag})`;
  });
