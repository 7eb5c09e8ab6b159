// npm run size: what `wrangler deploy` would upload, raw and gzip-compressed, per file and in
// total. Cloudflare's limits page gives one Worker size limit for every plan: 64 MiB uncompressed
// (the 3 MB / 10 MB compressed limits were removed).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const out = mkdtempSync(join(tmpdir(), "edgerec-size-"));
try {
  execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", out], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
  });
  const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(2)} MB`;
  let raw = 0;
  let gz = 0;
  const rows = readdirSync(out)
    .filter((f) => !f.endsWith(".map") && f !== "README.md")
    .map((f) => {
      const bytes = readFileSync(join(out, f));
      const z = gzipSync(bytes, { level: 9 }).byteLength;
      raw += bytes.byteLength;
      gz += z;
      return `${f.replace(/^[0-9a-f]{40}-/, "").padEnd(36)} ${mb(bytes.byteLength).padStart(10)} ${mb(z).padStart(10)}`;
    });
  console.log(`${"file".padEnd(36)} ${"raw".padStart(10)} ${"gzip".padStart(10)}`);
  for (const r of rows) console.log(r);
  console.log(`${"total".padEnd(36)} ${mb(raw).padStart(10)} ${mb(gz).padStart(10)}`);
  const limit = 64 * 1024 * 1024;
  console.log(
    `\nWorkers size limit: 64 MiB uncompressed on every plan. ${raw <= limit ? `This Worker uses ${((100 * raw) / limit).toFixed(1)}% of it.` : "This Worker is over it."}`,
  );
  console.log(JSON.stringify({ raw_bytes: raw, gzip_bytes: gz }));
} finally {
  rmSync(out, { recursive: true, force: true });
}
