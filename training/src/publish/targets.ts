// R2 targets for publishing: the local bucket that `wrangler dev` reads (through wrangler's
// platform proxy, persisted in .wrangler/state) and the real bucket (through the wrangler CLI).
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { closeSync, openSync, writeSync } from "node:fs";
import { type BusyRetryOptions, retryWhileBusy } from "./busy-retry.ts";
import { OFFLINE_WRANGLER_ENV } from "./d1-migrations.ts";
import { type D1Like, type R2BucketLike, type R2Target, type SnapshotTarget, bindingTarget, d1SnapshotTarget } from "./publish.ts";

const run = promisify(execFile);

export { OFFLINE_WRANGLER_ENV } from "./d1-migrations.ts";

// measured at ML-32M size: 8 statements a transaction and a 10 ms pause load 200,948 users in
// 23 to 24 s (16 and no pause: 14 s); with the live store's retries, a `wrangler dev` serving
// meanwhile answered 147,789 of 147,795 requests 200 in bench:faults (without them: 1,564 503s)
const LOCAL_D1_BATCH = 8;
const LOCAL_D1_PAUSE_MS = 10;

/**
 * The same target with every R2 operation retried while the local bucket's SQLite index is busy
 * (a `wrangler dev` serving from the same .wrangler/state). Each operation is one transaction;
 * a conditional put that failed busy did not happen, so trying it again with the same etag is
 * still the same compare-and-swap.
 */
export function retryingBusy(target: R2Target, onRetry?: BusyRetryOptions["onRetry"]): R2Target {
  const retry = <T>(what: string, work: () => Promise<T>) => retryWhileBusy(work, { what: `${what} in ${target.describe}`, onRetry });
  return {
    ...target,
    get: (key) => retry(`reading ${key}`, () => target.get(key)),
    put: (key, bytes, type, ifEtag) => retry(`writing ${key}`, () => target.put(key, bytes, type, ifEtag)),
    size: (key) => retry(`checking ${key}`, () => target.size(key)),
  };
}

/**
 * The local bucket and, beside it, the local D1 (binding DB) for bundles whose per-user data
 * lives there; the D1 must be migrated first (migrateLocalD1). Both are SQLite files a running
 * `wrangler dev` shares: every write is retried while they are busy (`log` hears of each retry).
 */
export async function localTarget(binding = "MODELS", persistTo?: string, log?: (line: string) => void): Promise<R2Target> {
  Object.assign(process.env, OFFLINE_WRANGLER_ENV);
  const { getPlatformProxy } = await import("wrangler");
  // `wrangler dev --persist-to X` keeps its state in X/v3; the proxy takes that folder itself
  const proxy = await getPlatformProxy<Record<string, unknown>>({ persist: persistTo ? { path: join(persistTo, "v3") } : true, remoteBindings: false });
  const bucket = proxy.env[binding] as R2BucketLike | undefined;
  if (!bucket) {
    await proxy.dispose();
    throw new Error(`wrangler.toml has no R2 binding named ${binding}`);
  }
  const onRetry: BusyRetryOptions["onRetry"] = (n, ms) =>
    log?.(`the local state is busy (another process, likely wrangler dev, is writing to it): try ${n} failed, trying again in ${ms} ms`);
  const target = retryingBusy(
    bindingTarget(bucket, `local R2 (${binding}, ${persistTo ?? ".wrangler/state"})`, () => proxy.dispose()),
    onRetry,
  );
  const db = proxy.env.DB as D1Like | undefined;
  // small transactions with a pause between them: a `wrangler dev` serving from the same SQLite
  // file gets its turn (its reads and live-rating writes otherwise find the file locked)
  const snapshots = db
    ? d1SnapshotTarget(db, `the local D1 (DB, ${persistTo ?? ".wrangler/state"})`, { perBatch: LOCAL_D1_BATCH, pauseMs: LOCAL_D1_PAUSE_MS, onRetry })
    : undefined;
  return snapshots ? { ...target, snapshots } : target;
}

/**
 * The real D1 database named in wrangler.toml, through `wrangler d1 execute --remote --file`:
 * the statements are written to a file first (D1 imports it as a whole).
 */
export function remoteSnapshotTarget(databaseName: string): SnapshotTarget {
  return {
    describe: `D1 database ${databaseName} (remote)`,
    async execute(statements) {
      const scratch = mkdtempSync(join(tmpdir(), "edgerec-d1-"));
      const file = join(scratch, "snapshots.sql");
      try {
        const fd = openSync(file, "w");
        try {
          for (const sql of statements) writeSync(fd, `${sql};\n`);
        } finally {
          closeSync(fd);
        }
        await run("npx", ["wrangler", "d1", "execute", databaseName, "--remote", "--file", file, "--yes"], { maxBuffer: 64 * 1024 * 1024 });
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    },
  };
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
