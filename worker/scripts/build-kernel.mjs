// Compiles the Worker's ranking kernel (training/src/shared/assembly/rank-int8.ts, AssemblyScript,
// shared with training's export) to worker/build/rank-int8.wasm (never committed), which the
// Worker imports as a compiled module: Workers may not compile WebAssembly from bytes at run time.
// Node reads the same file (compiledRankKernel). Runs on `npm install` and `npm run build`.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compileAssemblyScript } from "../../training/scripts/assemblyscript.mjs";

const worker = join(dirname(fileURLToPath(import.meta.url)), "..");
await compileAssemblyScript({
  script: "build-kernel",
  source: join(worker, "../training/src/shared/assembly/rank-int8.ts"),
  outDir: join(worker, "build"),
  name: "rank-int8.wasm",
  outputs: ["rank-int8.wasm"],
  // no threads and no shared memory (workerd has neither): the host gives it its own memory
  flags: ["--optimizeLevel", "3", "--shrinkLevel", "0", "--runtime", "stub", "--noAssert", "--enable", "simd", "--importMemory", "--initialMemory", "1", "--maximumMemory", "65536", "--use", "abort="],
});
