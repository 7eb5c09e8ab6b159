// Compiles one AssemblyScript source with asc into a build folder, for the build scripts of the
// training kernels and the Worker's ranking kernel. The output is written to a temp folder and
// renamed, so a failed build leaves the last good one in place; a failure exits with status 1.
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";

/**
 * @param {{ script: string, source: string, outDir: string, name: string, outputs: string[], flags: string[] }} o
 *   `name` is the wasm file's name; `outputs` every file asc writes that is kept (the wasm among them).
 */
export async function compileAssemblyScript({ script, source, outDir, name, outputs, flags }) {
  let asc;
  try {
    asc = (await import("assemblyscript/asc")).default;
  } catch {
    console.error(`${script}: the AssemblyScript compiler is missing. Run \`npm ci\` (dev dependencies included).`);
    process.exit(1);
  }
  const tmpDir = join(outDir, `.${name}-${process.pid}.tmp`);
  mkdirSync(tmpDir, { recursive: true });
  const { error, stderr } = await asc.main([source, "--outFile", join(tmpDir, name), ...flags]);
  if (error) {
    rmSync(tmpDir, { recursive: true, force: true });
    console.error(stderr.toString());
    console.error(`${script}: compiling ${source} failed: ${error.message}`);
    process.exit(1);
  }
  for (const f of outputs) renameSync(join(tmpDir, f), join(outDir, f));
  rmSync(tmpDir, { recursive: true, force: true });
  // quiet on success (it runs in every `npm test`); --verbose names what was written
  if (process.argv.includes("--verbose")) console.log(`${script}: wrote ${join(outDir, name)}`);
}
