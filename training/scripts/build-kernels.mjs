// Compiles the AssemblyScript kernels to training/build/kernels.wasm (never committed), with
// asc's typings of its exports (kernels.d.ts), which type the host's dispatch to the kernels.
// Runs on `npm install` and `npm run build`; the output is written to a temp folder and renamed.
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "src/engine/wasm/assembly/kernels.ts");
const outDir = join(root, "build");
const out = join(outDir, "kernels.wasm");
const tmpDir = join(outDir, `.kernels-${process.pid}.tmp`);
const tmp = join(tmpDir, "kernels.wasm");

let asc;
try {
  asc = (await import("assemblyscript/asc")).default;
} catch {
  console.error("build-kernels: the AssemblyScript compiler is missing. Run `npm ci` (dev dependencies included).");
  process.exit(1);
}

mkdirSync(tmpDir, { recursive: true });
const { error, stderr } = await asc.main([
  source,
  "--outFile",
  tmp,
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
]);
if (error) {
  rmSync(tmpDir, { recursive: true, force: true });
  console.error(stderr.toString());
  console.error(`build-kernels: compiling ${source} failed: ${error.message}`);
  process.exit(1);
}
for (const f of ["kernels.js", "kernels.d.ts", "kernels.wasm"]) renameSync(join(tmpDir, f), join(outDir, f));
rmSync(tmpDir, { recursive: true, force: true });
console.log(`build-kernels: wrote ${out}`);
