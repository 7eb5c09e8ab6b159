// Picks the backend graph models train on. The GPU backend is loaded only when asked for, so a
// CPU run never loads Dawn.
import type { Device, GraphBackend } from "./backend.ts";
import { WasmBackend } from "./wasm/backend.ts";

/** "cpu": the WebAssembly SIMD kernels on `threads` threads; "gpu": WebGPU (fails with what to install when no adapter is found). */
export async function createBackend(device: Device, threads: number): Promise<GraphBackend> {
  if (device === "cpu") return WasmBackend.create(threads);
  const { WebGpuBackend } = await import("./webgpu/backend.ts");
  return WebGpuBackend.create();
}
