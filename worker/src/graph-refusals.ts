// What keeps a graph that ONNX Runtime refuses from costing the isolate its size in memory.
// onnxruntime-web keeps about a graph's size of its wasm memory each time it refuses one past the
// protobuf parse (its own C++: the JS side frees its copy of the bytes), and a wasm memory never
// shrinks (`npm run bench:failed-loads`, docs/trust.md#failed-loads). The contract's check
// (training/src/contract/graph-check.ts) refuses what it can see before this runs; for the rest:
// - each graph is first tried as its skeleton (graph-skeleton.ts: the large tables made inputs),
//   which ORT checks as it checks the graph, for a few kilobytes: a refusal keeps that much;
// - bytes ORT refused, as a skeleton or whole, are remembered for the isolate's life and never
//   handed to it again (the same broken graph retried, or carried by new publications).
import { graphSkeleton } from "./graph-skeleton.ts";
import type { CheckingOrt, Ort } from "./serving.ts";

interface Refusal {
  bytes: number;
  sha256: string;
  message: string;
}

/** Newest last; bounded, so a stream of distinct broken graphs cannot grow the list either. */
const refusals: Refusal[] = [];
const REMEMBERED = 16;

/** ORT's answer to a graph it could not build a session from (not a JS error such as a failed allocation). */
const REFUSAL = /^Can't create a session\. ERROR_CODE: \d+/;
/** A refusal for want of memory says nothing about the bytes: the same graph may load later. */
const OUT_OF_MEMORY = /alloc|memory/i;

const refusesTheBytes = (message: string): boolean => REFUSAL.test(message) && !OUT_OF_MEMORY.test(message);

/**
 * The skeleton's session is checked, never run: without graph optimizations it costs about a
 * millisecond per graph (ORT still resolves the graph, infers types and shapes and finds a kernel
 * for every node, where its refusals come from). A new object each time: ORT writes into it.
 */
const trialOptions = (): { graphOptimizationLevel: "disabled" } => ({ graphOptimizationLevel: "disabled" });

type Session = Awaited<ReturnType<Ort["InferenceSession"]["create"]>>;

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** How many refusals are remembered (tests). */
export function rememberedRefusals(): number {
  return refusals.length;
}

/** Remembers that ORT refused `model` (the newest last, the oldest forgotten past REMEMBERED). */
async function remember(model: Uint8Array, hash: string | null, message: string): Promise<void> {
  refusals.push({ bytes: model.byteLength, sha256: hash ?? (await sha256(model)), message });
  if (refusals.length > REMEMBERED) refusals.shift();
}

/**
 * `ort` whose session factory refuses, without calling ORT, the bytes ORT refused before, and
 * tries each graph's skeleton before the graph; `checkGraph` does only that (a graph built on its
 * first use is checked at load: a refusal still refuses the bundle), and the session built later
 * from the same bytes is not tried again. The bytes are hashed only when a remembered refusal has
 * their length: nothing for a good load.
 */
export function rememberingRefusals(ort: Ort): CheckingOrt {
  /** Bytes whose check passed (their session may be built without trying the skeleton again). */
  const checked = new WeakSet<Uint8Array>();
  const guard = async (model: Uint8Array) => {
    const sameLength = refusals.filter((r) => r.bytes === model.byteLength);
    const hash = sameLength.length > 0 ? await sha256(model) : null;
    const known = sameLength.find((r) => r.sha256 === hash);
    if (known) throw new Error(`${known.message} (ONNX Runtime refused these bytes before; not handed to it again)`);
    return async (e: unknown): Promise<never> => {
      const message = e instanceof Error ? e.message : String(e);
      if (refusesTheBytes(message)) await remember(model, hash, message);
      throw e;
    };
  };
  /** ORT checks `graph` (a skeleton, or a graph without large tables) as it would build it; nothing is kept. */
  const trial = async (model: Uint8Array, graph: Uint8Array, refused: (e: unknown) => Promise<never>): Promise<void> => {
    await (await ort.InferenceSession.create(graph, trialOptions()).catch(refused)).release();
    checked.add(model);
  };
  const checkGraph = async (model: Uint8Array): Promise<void> => {
    if (checked.has(model)) return;
    const refused = await guard(model);
    await trial(model, graphSkeleton(model) ?? model, refused);
  };
  const create = async (model: Uint8Array): Promise<Session> => {
    const refused = await guard(model);
    // a refusal of the skeleton is the graph's: the graph is then never handed over
    const skeleton = checked.has(model) ? null : graphSkeleton(model);
    if (skeleton) await trial(model, skeleton, refused);
    return ort.InferenceSession.create(model).catch(refused);
  };
  return { Tensor: ort.Tensor, InferenceSession: { ...ort.InferenceSession, create } as Ort["InferenceSession"], checkGraph };
}
