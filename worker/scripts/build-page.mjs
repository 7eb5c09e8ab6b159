// Builds the page the Worker serves at / (Workers static assets, [assets] in wrangler.toml):
// worker/page/app.ts bundled by esbuild, with index.html and style.css, into worker/public/
// (never committed). Written to a temp folder and renamed, so a failed build leaves the last
// good page in place. Runs on `npm install` and `npm run build`.
import { copyFileSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const worker = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(worker, "page");
const out = join(worker, "public");
const tmp = `${out}.${process.pid}.tmp`;

let esbuild;
try {
  esbuild = await import("esbuild");
} catch {
  console.error("build-page: esbuild is missing. Run `npm ci` (dev dependencies included).");
  process.exit(1);
}

rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });
try {
  await esbuild.build({
    entryPoints: [join(source, "app.ts")],
    outfile: join(tmp, "app.js"),
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: true,
    sourcemap: false,
    logLevel: "warning",
  });
  for (const f of ["index.html", "style.css"]) copyFileSync(join(source, f), join(tmp, f));
  rmSync(out, { recursive: true, force: true });
  renameSync(tmp, out);
  // quiet on success (it runs in every `npm test`); --verbose names what was written
  if (process.argv.includes("--verbose")) console.log(`build-page: wrote ${out}`);
} catch (err) {
  rmSync(tmp, { recursive: true, force: true });
  console.error(`build-page: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
