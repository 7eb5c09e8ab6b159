// ONNX Runtime's start, ahead of the first model. A fresh isolate's first InferenceSession.create
// pays for instantiating ORT's wasm and its C++ runtime's init, then for its first session,
// before it reads any graph: two stretches of CPU, each tens of milliseconds that nothing else
// runs during. Made apart from the model's graphs, they run while the load waits on R2 instead
// of after it: the init while the pointer is read, the first session while the files are
// (docs/edge.md, "The cold first list").
import { GRAPH_INPUT, MODEL_GRAPH } from "../../training/src/contract/onnx-summary.ts";
import { lengthDelimited, tensorValue, text, varintField } from "./onnx-write.ts";
import type { Ort } from "./serving.ts";

const MODEL_IR_VERSION = 1;
const MODEL_OPSET_IMPORT = 8;
const GRAPH_NODE = 1;
const GRAPH_NAME = 2;
const GRAPH_OUTPUT = 12;
const FLOAT = 1;

/** A model whose graph is one Identity of a float[1]: the least ORT builds a session from. */
export function startGraph(): Uint8Array {
  const node = [...text(1, "x"), ...text(2, "y"), ...text(4, "Identity")];
  const graph = [
    ...lengthDelimited(GRAPH_NODE, node),
    ...text(GRAPH_NAME, "edgerec-start"),
    ...tensorValue(GRAPH_INPUT, "x", FLOAT, [1]),
    ...tensorValue(GRAPH_OUTPUT, "y", FLOAT, [1]),
  ];
  const opset = [...text(1, ""), ...varintField(2, 13)];
  return Uint8Array.from([...varintField(MODEL_IR_VERSION, 7), ...lengthDelimited(MODEL_GRAPH, graph), ...lengthDelimited(MODEL_OPSET_IMPORT, opset)]);
}

/**
 * Options ORT refuses in JavaScript after its runtime's init and before any native session
 * exists (onnxruntime-web 1.30's createSession: the model's bytes are copied in, then the options
 * are checked, and the copy is freed when they fail): a session create with them starts ORT, and
 * only that.
 */
const INIT_ONLY = { graphOptimizationLevel: "edgerec-start-only" } as unknown as { graphOptimizationLevel: "all" };

/**
 * ORT's runtime started (its wasm instantiated, its C++ init), and no session: a session create
 * with options ORT refuses after that init. One uninterrupted stretch of tens of milliseconds.
 * Never rejects: a runtime that cannot start fails the load's own first session, which says why.
 */
export async function initRuntime(ort: Ort): Promise<void> {
  await ort.InferenceSession.create(startGraph(), INIT_ONLY).then(
    (unexpected) => unexpected.release(),
    () => {},
  );
}

/**
 * A first session, of startGraph(), released at once: an isolate's first session costs several
 * times a later one (ORT's kernels are registered then), another uninterrupted stretch. Never
 * rejects, as initRuntime.
 */
export async function firstSession(ort: Ort): Promise<void> {
  try {
    await (await ort.InferenceSession.create(startGraph())).release();
  } catch {
    // the load's own sessions report it
  }
}
