// R2 targets for publishing: the local bucket that `wrangler dev` reads (through wrangler's
// platform proxy, persisted in .wrangler/state) and the real bucket (through the wrangler CLI).
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { R2Target } from "./publish.ts";

const run = promisify(execFile);

/** Keeps wrangler from calling out (metrics, cf fetch) when it only works on local state. */
export const OFFLINE_WRANGLER_ENV = { CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" };

/** The part of the Workers R2Bucket API used here (the Worker itself has the full types). */
interface R2BucketLike {
  put(key: string, value: Uint8Array, options: { httpMetadata: { contentType: string } }): Promise<unknown>;
  head(key: string): Promise<{ size: number } | null>;
}

export async function localTarget(binding = "MODELS", persistTo?: string): Promise<R2Target> {
  Object.assign(process.env, OFFLINE_WRANGLER_ENV);
  const { getPlatformProxy } = await import("wrangler");
  const proxy = await getPlatformProxy<Record<string, R2BucketLike>>({ persist: persistTo ? { path: persistTo } : true, remoteBindings: false });
  const bucket = proxy.env[binding];
  if (!bucket) throw new Error(`wrangler.toml has no R2 binding named ${binding}`);
  return {
    describe: `local R2 (${binding}, .wrangler/state)`,
    async put(key, bytes, contentType) {
      await bucket.put(key, bytes, { httpMetadata: { contentType } });
    },
    async size(key) {
      return (await bucket.head(key))?.size ?? null;
    },
    close: () => proxy.dispose(),
  };
}

/** The real bucket named in wrangler.toml, through `wrangler r2 object put/get --remote`. */
export function remoteTarget(bucketName: string): R2Target {
  const wrangler = (...args: string[]) => run("npx", ["wrangler", ...args], { maxBuffer: 64 * 1024 * 1024 });
  const scratch = mkdtempSync(join(tmpdir(), "edgerec-publish-"));
  return {
    describe: `R2 bucket ${bucketName} (remote)`,
    async put(key, bytes, contentType) {
      const file = join(scratch, "upload");
      writeFileSync(file, bytes);
      await wrangler("r2", "object", "put", `${bucketName}/${key}`, "--file", file, "--content-type", contentType, "--remote");
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
