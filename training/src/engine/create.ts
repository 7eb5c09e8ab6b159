// Picks the backend graph models train on, and makes the CPU backend models fall back to: the
// one way into the engine besides the interfaces in backend.ts (models never import wasm/ or
// webgpu/). The GPU backend is loaded only when asked for, so a CPU run never loads Dawn.
import type { CpuBackend, Device, GraphBackend, KernelMemory } from "./backend.ts";
import { WasmBackend } from "./wasm/backend.ts";
import { Engine, engine } from "./wasm/kernels.ts";

/** "cpu": the WebAssembly SIMD kernels on `threads` threads; "gpu": WebGPU (fails with what to install when no adapter is found). */
export async function createBackend(device: Device, threads: number): Promise<GraphBackend> {
  if (device === "cpu") return WasmBackend.create(threads);
  const { WebGpuBackend } = await import("./webgpu/backend.ts");
  return WebGpuBackend.create();
}

/** The process's CPU kernel memory (one linear memory every CPU model allocates in). */
export function sharedKernelMemory(): KernelMemory {
  return engine();
}

/** The CPU backend on `threads` threads over `memory` (by default the process's). */
export function cpuBackend(threads: number, memory?: KernelMemory): CpuBackend {
  if (memory !== undefined && !(memory instanceof Engine)) throw new Error("cpuBackend: the kernel memory was not made by sharedKernelMemory()");
  return WasmBackend.create(threads, memory);
}
