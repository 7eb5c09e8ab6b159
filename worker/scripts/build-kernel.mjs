// Compiles the Worker's ranking kernel (worker/kernels/rank-int8.ts, AssemblyScript) to
// worker/build/rank-int8.wasm (never committed), which the Worker imports as a compiled module:
// Workers may not compile WebAssembly from bytes at run time. No threads and no shared memory
// (workerd has neither); the host gives it its own memory. Runs on `npm install` and
// `npm run build`; the output is written to a temp folder and renamed.
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const worker = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(worker, "kernels/rank-int8.ts");
const outDir = join(worker, "build");
const out = join(outDir, "rank-int8.wasm");
const tmpDir = join(outDir, `.kernel-${process.pid}.tmp`);

let asc;
try {
  asc = (await import("assemblyscript/asc")).default;
} catch {
  console.error("build-kernel: the AssemblyScript compiler is missing. Run `npm ci` (dev dependencies included).");
  process.exit(1);
}

mkdirSync(tmpDir, { recursive: true });
const { error, stderr } = await asc.main([
  source,
  "--outFile",
  join(tmpDir, "rank-int8.wasm"),
  "--optimizeLevel",
  "3",
  "--shrinkLevel",
  "0",
  "--runtime",
  "stub",
  "--noAssert",
  "--enable",
  "simd",
  "--importMemory",
  "--initialMemory",
  "1",
  "--maximumMemory",
  "65536",
  "--use",
  "abort=",
]);
if (error) {
  rmSync(tmpDir, { recursive: true, force: true });
  console.error(stderr.toString());
  console.error(`build-kernel: compiling ${source} failed: ${error.message}`);
  process.exit(1);
}
renameSync(join(tmpDir, "rank-int8.wasm"), out);
rmSync(tmpDir, { recursive: true, force: true });
console.log(`build-kernel: wrote ${out}`);
