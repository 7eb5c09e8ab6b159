// R2 targets for publishing: the local bucket that `wrangler dev` reads (through wrangler's
// platform proxy, persisted in .wrangler/state) and the real bucket (through the wrangler CLI).
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type R2BucketLike, type R2Target, bindingTarget } from "./publish.ts";

const run = promisify(execFile);

/** Keeps wrangler from calling out (metrics, cf fetch) when it only works on local state. */
export const OFFLINE_WRANGLER_ENV = { CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };

export async function localTarget(binding = "MODELS", persistTo?: string): Promise<R2Target> {
  Object.assign(process.env, OFFLINE_WRANGLER_ENV);
  const { getPlatformProxy } = await import("wrangler");
  // `wrangler dev --persist-to X` keeps its state in X/v3; the proxy takes that folder itself
  const proxy = await getPlatformProxy<Record<string, R2BucketLike>>({ persist: persistTo ? { path: join(persistTo, "v3") } : true, remoteBindings: false });
  const bucket = proxy.env[binding];
  if (!bucket) throw new Error(`wrangler.toml has no R2 binding named ${binding}`);
  return bindingTarget(bucket, `local R2 (${binding}, .wrangler/state)`, () => proxy.dispose());
}

/**
 * The real bucket named in wrangler.toml, through `wrangler r2 object put/get --remote`. The CLI
 * has no conditional put: the pointer still only moves forward (versions are compared), but two
 * publishes racing each other are not detected.
 */
/** The real bucket named in wrangler.toml, through `wrangler r2 object put/get --remote`. */
export function remoteTarget(bucketName: string): R2Target {
  const wrangler = (...args: string[]) => run("npx", ["wrangler", ...args], { maxBuffer: 64 * 1024 * 1024 });
  const scratch = mkdtempSync(join(tmpdir(), "edgerec-publish-"));
  return {
    describe: `R2 bucket ${bucketName} (remote)`,
    async get(key) {
      const file = join(scratch, "download");
      try {
        await wrangler("r2", "object", "get", `${bucketName}/${key}`, "--file", file, "--remote");
        return { bytes: readFileSync(file), etag: "" };
      } catch {
        return null;
      }
    },
    async put(key, bytes, contentType) {
      const file = join(scratch, "upload");
      writeFileSync(file, bytes);
      await wrangler("r2", "object", "put", `${bucketName}/${key}`, "--file", file, "--content-type", contentType, "--remote");
      return true;
    },
    async size(key) {
      const file = join(scratch, "download");
      try {
        await wrangler("r2", "object", "get", `${bucketName}/${key}`, "--file", file, "--remote");
        return statSync(file).size;
      } catch {
        return null;
      }
    },
    async close() {
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}
