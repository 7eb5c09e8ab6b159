// The kernels' exports as a type, apart from the engine that instantiates them, so the thread
// pool and the engine both name it without importing each other.
import type { instantiate } from "../../../build/kernels.js";

/**
 * The kernels' exports as asc declares them (build/kernels.d.ts, written with the .wasm by
 * `npm run build`), so every call from the host is checked against the real signatures.
 */
export type KernelExports = Omit<Awaited<ReturnType<typeof instantiate>>, "memory">;
