// Compiles the AssemblyScript kernels to training/build/kernels.wasm (never committed), with
// asc's typings of its exports (kernels.d.ts), which type the host's dispatch to the kernels.
// Runs on `npm install` and `npm run build`.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compileAssemblyScript } from "./assemblyscript.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
await compileAssemblyScript({
  script: "build-kernels",
  source: join(root, "src/engine/wasm/assembly/kernels.ts"),
  outDir: join(root, "build"),
  name: "kernels.wasm",
  outputs: ["kernels.js", "kernels.d.ts", "kernels.wasm"],
  // shared memory and threads: the training kernels run on a pool of Node workers
  flags: [
    "--bindings",
    "raw",
    "--optimizeLevel",
    "3",
    "--shrinkLevel",
    "0",
    "--runtime",
    "stub",
    "--noAssert",
    "--enable",
    "simd,relaxed-simd,threads",
    "--importMemory",
    "--sharedMemory",
    "--initialMemory",
    "1",
    "--maximumMemory",
    "65536",
    "--use",
    "abort=",
  ],
});
