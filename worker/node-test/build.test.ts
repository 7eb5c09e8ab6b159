// Guards the Worker's build in Node: onnxruntime-web is pinned to one exact version (the
// placeholder-wasm routing in worker/src/ort.ts depends on its loader), and `wrangler deploy
// --dry-run` bundles the Worker with ORT's wasm as a compiled module.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

describe("the Worker build", () => {
  it("pins onnxruntime-web to an exact version", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { dependencies: Record<string, string> };
    expect(pkg.dependencies["onnxruntime-web"]).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("passes `wrangler deploy --dry-run`, with ORT's wasm as a separate module", () => {
    const out = mkdtempSync(join(tmpdir(), "edgerec-dry-run-"));
    const log = execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", out], {
      encoding: "utf8",
      env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
    });
    expect(log).toMatch(/env\.MODELS \(edgerec-models\)\s+R2 Bucket/);
    const files = readdirSync(out);
    expect(files).toContain("index.js");
    expect(files.some((f) => f.endsWith("ort-wasm-simd-threaded.wasm"))).toBe(true);
  }, 120_000);
});
