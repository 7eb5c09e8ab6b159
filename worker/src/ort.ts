// onnxruntime-web inside workerd. Workers may not compile WebAssembly from bytes at run time,
// so ORT's wasm is imported as a compiled module (wrangler's CompiledWasm rule), while ORT only
// accepts bytes (env.wasm.wasmBinary). ORT is handed a tiny valid placeholder module carrying a
// marker section, and the WebAssembly.instantiate call made with those bytes is routed to the
// imported module. No threads in workerd. Pinned: onnxruntime-web 1.30.0 (package.json).
import ortWasm from "onnxruntime-web/ort-wasm-simd-threaded.wasm";
import * as ort from "onnxruntime-web/wasm";
import { firstSession, initRuntime } from "./ort-start.ts";

const MARKER = "edgerec:onnxruntime-web";

/** "\0asm", version 1, then one custom section whose name is the marker. */
function placeholderModule(): Uint8Array {
  const name = new TextEncoder().encode(MARKER);
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x00, name.length + 1, name.length, ...name]);
}

function isPlaceholder(source: unknown): boolean {
  let bytes: Uint8Array | null = null;
  if (source instanceof ArrayBuffer) bytes = new Uint8Array(source);
  else if (ArrayBuffer.isView(source)) bytes = new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  if (!bytes || bytes.byteLength > 64) return false;
  return new TextDecoder().decode(bytes.subarray(11)) === MARKER;
}

let ready: Promise<typeof ort> | null = null;
/** ORT's linear memory, once instantiated: where its sessions keep the models' tables. */
let ortMemory: WebAssembly.Memory | null = null;

/** Bytes of ORT's wasm memory (0 before the first session): isolate memory outside the JS heap. */
export function ortWasmBytes(): number {
  return ortMemory?.buffer.byteLength ?? 0;
}

// `npm run bench:faults` reads the isolate's memory through wrangler dev's inspector, where V8's
// heap statistics leave out wasm memories: this global lets it ask for ORT's too.
(globalThis as { __edgerecOrtWasmBytes?: () => number }).__edgerecOrtWasmBytes = ortWasmBytes;

function findMemory(...places: unknown[]): WebAssembly.Memory | null {
  for (const place of places) {
    if (!place || typeof place !== "object") continue;
    for (const v of Object.values(place as Record<string, unknown>)) {
      if (v instanceof WebAssembly.Memory) return v;
      if (v && typeof v === "object" && !(v instanceof WebAssembly.Memory)) {
        for (const w of Object.values(v as Record<string, unknown>)) if (w instanceof WebAssembly.Memory) return w;
      }
    }
  }
  return null;
}

export function onnxRuntime(): Promise<typeof ort> {
  ready ??= (async () => {
    const instantiate = WebAssembly.instantiate.bind(WebAssembly) as (s: unknown, i?: WebAssembly.Imports) => Promise<unknown>;
    (WebAssembly as { instantiate: unknown }).instantiate = async (source: unknown, imports?: WebAssembly.Imports) => {
      if (!isPlaceholder(source)) return instantiate(source, imports);
      const begun = performance.now();
      const instance = (await instantiate(ortWasm, imports)) as WebAssembly.Instance;
      runtimeStart.instantiate = performance.now() - begun;
      ortMemory = findMemory(instance.exports, imports);
      return { instance, module: ortWasm };
    };
    ort.env.wasm.wasmBinary = placeholderModule();
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    return ort;
  })();
  return ready;
}

let initialized: Promise<void> | null = null;
let warmed: Promise<void> | null = null;

/** What ORT's start took (Server-Timing of the first load): instantiating its wasm, its runtime's init, its first session. */
export const runtimeStart: { instantiate: number | null; init: number | null; firstSession: number | null } = {
  instantiate: null,
  init: null,
  firstSession: null,
};

/**
 * ORT's runtime started (ort-start.ts initRuntime), once per isolate: the model store begins it
 * as it reads the pointer.
 */
export function initializedOnnxRuntime(): Promise<void> {
  initialized ??= onnxRuntime().then(async (ort) => {
    const begun = performance.now();
    await initRuntime(ort);
    runtimeStart.init = performance.now() - begun;
  });
  return initialized;
}

/** ORT's first session made and released (ort-start.ts firstSession), once per isolate: begun as a load reads its files. */
export function warmedOnnxRuntime(): Promise<void> {
  warmed ??= initializedOnnxRuntime().then(async () => {
    const begun = performance.now();
    await firstSession(await onnxRuntime());
    runtimeStart.firstSession = performance.now() - begun;
  });
  return warmed;
}
