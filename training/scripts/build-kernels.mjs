// Compiles the AssemblyScript kernels to training/build/kernels.wasm (never committed).
// Runs on `npm install` and `npm run build`; the output is written to a temp name and renamed.
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "src/engine/wasm/assembly/kernels.ts");
const outDir = join(root, "build");
const out = join(outDir, "kernels.wasm");
const tmp = `${out}.${process.pid}.tmp`;

let asc;
try {
  asc = (await import("assemblyscript/asc")).default;
} catch {
  console.error("build-kernels: the AssemblyScript compiler is missing. Run `npm ci` (dev dependencies included).");
  process.exit(1);
}

mkdirSync(outDir, { recursive: true });
const { error, stderr } = await asc.main([
  source,
  "--outFile",
  tmp,
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
  if (existsSync(tmp)) rmSync(tmp);
  console.error(stderr.toString());
  console.error(`build-kernels: compiling ${source} failed: ${error.message}`);
  process.exit(1);
}
renameSync(tmp, out);
console.log(`build-kernels: wrote ${out}`);
