// Graphs ONNX Runtime refused, remembered for the isolate's life so the same bytes never reach it
// twice. onnxruntime-web keeps about a graph's size of its wasm memory each time it refuses one
// (its own C++; the JS side frees its copy of the bytes), and a wasm memory never shrinks. The
// contract's check (training/src/contract/graph-check.ts) refuses what it can see before ORT does;
// a graph that passes it and is still refused (say, an attribute out of range) costs this isolate
// one refusal, not one per retry, per publication carrying it, or per previous version tried.
import type { Ort } from "./serving.ts";

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

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** How many refusals are remembered (tests). */
export function rememberedRefusals(): number {
  return refusals.length;
}

/**
 * `ort` whose session factory refuses, without calling ORT, the bytes ORT refused before. The
 * bytes are hashed only when a remembered refusal has their length: nothing for a good load.
 */
export function rememberingRefusals(ort: Ort): Ort {
  const create = async (model: Uint8Array): Promise<Awaited<ReturnType<Ort["InferenceSession"]["create"]>>> => {
    const sameLength = refusals.filter((r) => r.bytes === model.byteLength);
    const hash = sameLength.length > 0 ? await sha256(model) : null;
    const known = sameLength.find((r) => r.sha256 === hash);
    if (known) throw new Error(`${known.message} (ONNX Runtime refused these bytes before; not handed to it again)`);
    try {
      return await ort.InferenceSession.create(model);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (REFUSAL.test(message)) {
        refusals.push({ bytes: model.byteLength, sha256: hash ?? (await sha256(model)), message });
        if (refusals.length > REMEMBERED) refusals.shift();
      }
      throw e;
    }
  };
  return { Tensor: ort.Tensor, InferenceSession: { ...ort.InferenceSession, create } as Ort["InferenceSession"] };
}
