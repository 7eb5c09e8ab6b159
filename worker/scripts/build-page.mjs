// Builds the page the Worker serves at / (Workers static assets, [assets] in wrangler.toml):
// worker/page/app.ts bundled by esbuild, with index.html and style.css, into worker/public/
// (never committed), and the interactive API docs at /docs/: Swagger UI's own files from
// swagger-ui-dist with a small init script (worker/page/docs), so /docs loads nothing from
// another origin. And _headers, the security headers of these files (static assets never pass
// through the Worker's middleware), from the values the Worker itself sends
// (worker/src/security/policy.ts). Written to a temp folder and renamed, so a failed build leaves the last good
// page in place. Runs on `npm install` and `npm run build`.
import { copyFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
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

/** Swagger UI's files the docs page loads (the bundle carries its own presets). */
const SWAGGER_FILES = ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"];

/**
 * The page types its API calls against the Worker's route definitions (import type): nothing of
 * the Worker, zod or the OpenAPI tooling may end up in what browsers download.
 */
function assertOnlyTheClient(metafile, entry) {
  const leaked = Object.keys(metafile.inputs).filter((input) => /(^|\/)(worker\/src|node_modules\/(zod|@hono\/zod-openapi|@asteasolutions|onnxruntime-web))\//.test(input));
  if (leaked.length) throw new Error(`${entry} bundles Worker-side code (${leaked.slice(0, 3).join(", ")}): import its types with \`import type\` only`);
}

/** worker/src/security/policy.ts (TypeScript, no imports), bundled by esbuild and loaded as a module. */
async function securityPolicy() {
  const { outputFiles } = await esbuild.build({
    entryPoints: [join(worker, "src", "security", "policy.ts")],
    bundle: true,
    format: "esm",
    platform: "neutral",
    write: false,
    logLevel: "warning",
  });
  return import(`data:text/javascript;base64,${Buffer.from(outputFiles[0].text).toString("base64")}`);
}

rmSync(tmp, { recursive: true, force: true });
mkdirSync(join(tmp, "docs"), { recursive: true });
try {
  for (const [entry, outfile] of [
    ["app.ts", "app.js"],
    [join("docs", "init.ts"), join("docs", "init.js")],
  ]) {
    const { metafile } = await esbuild.build({
      entryPoints: [join(source, entry)],
      outfile: join(tmp, outfile),
      bundle: true,
      format: "esm",
      target: "es2022",
      minify: true,
      sourcemap: false,
      metafile: true,
      logLevel: "warning",
    });
    assertOnlyTheClient(metafile, entry);
  }
  for (const f of ["index.html", "style.css", join("docs", "index.html")]) copyFileSync(join(source, f), join(tmp, f));
  writeFileSync(join(tmp, "_headers"), (await securityPolicy()).staticHeadersFile());
  const swagger = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  for (const f of SWAGGER_FILES) copyFileSync(join(swagger, f), join(tmp, "docs", f));
  rmSync(out, { recursive: true, force: true });
  renameSync(tmp, out);
  // quiet on success (it runs in every `npm test`); --verbose names what was written
  if (process.argv.includes("--verbose")) console.log(`build-page: wrote ${out}`);
} catch (err) {
  rmSync(tmp, { recursive: true, force: true });
  console.error(`build-page: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
