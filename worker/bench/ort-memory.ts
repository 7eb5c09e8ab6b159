// ORT's linear memory in Node, for measuring what sessions and refused graphs keep there: caught
// when onnxruntime-web instantiates its wasm, so call watchOrtMemory() before the first session.
let ortMemory: WebAssembly.Memory | null = null;
let watching = false;

export function watchOrtMemory(): void {
  if (watching) return;
  watching = true;
  const instantiate = WebAssembly.instantiate.bind(WebAssembly) as (source: unknown, imports?: WebAssembly.Imports) => Promise<unknown>;
  (WebAssembly as { instantiate: unknown }).instantiate = async (source: unknown, imports?: WebAssembly.Imports) => {
    const result = (await instantiate(source, imports)) as WebAssembly.Instance | { instance: WebAssembly.Instance };
    const instance = "instance" in result ? result.instance : result;
    const places = [instance.exports, ...Object.values(imports ?? {})];
    ortMemory ??= places.flatMap((p) => Object.values(p)).find((v): v is WebAssembly.Memory => v instanceof WebAssembly.Memory) ?? null;
    return result;
  };
}

/** Bytes of ORT's wasm memory (0 before its first session). */
export function ortWasmBytes(): number {
  return ortMemory?.buffer.byteLength ?? 0;
}
