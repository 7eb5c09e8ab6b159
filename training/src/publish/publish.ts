// Uploads a serving bundle to R2: every file under models/<version>/, each checked against the
// manifest before upload and by size after it, then the small pointer models/current.json last,
// so a reader never sees a half-uploaded version. The pointer only moves forward: a bundle older
// than the one served is refused (unless forced), publishing the served version again is a
// no-op, and the pointer is replaced only if it is still the one read at the start (an etag
// match), so two concurrent publishes cannot silently undo each other.
// Portable (web-standard APIs only): Node publishes through it, and the Worker tests seed
// their bucket through it.
import { BUNDLE_FILES, type CurrentPointer, type Manifest, R2_POINTER, nextPrevious, r2Key } from "../contract/artifacts.ts";
import { type BundleFileBytes, contentProblems, describeProblems } from "../contract/validate.ts";
import { type BusyRetryOptions, retryWhileBusy } from "./busy-retry.ts";
import { type SnapshotRows, isSqlSafeVersion, publishAuditStatement, pruneStatement, snapshotStatements } from "./snapshot-sql.ts";

/** A bundle in memory: its manifest and every file's bytes by file name (manifest.json included). */
export interface Bundle {
  manifest: Manifest;
  files: Map<string, Uint8Array>;
}

export interface StoredObject {
  bytes: Uint8Array;
  etag: string;
}

/** The few R2 operations publishing needs. */
export interface R2Target {
  describe: string;
  get(key: string): Promise<StoredObject | null>;
  /** Writes the object; with `ifEtag`, only while the stored object still has that etag (false if not). */
  put(key: string, bytes: Uint8Array, contentType: string, ifEtag?: string): Promise<boolean>;
  /** Stored size in bytes, or null when the object does not exist. */
  size(key: string): Promise<number | null>;
  close(): Promise<void>;
  /** The D1 database beside the bucket, for bundles whose per-user data lives there (per_user "d1"). */
  snapshots?: SnapshotTarget;
}

/** Where a per_user "d1" bundle's snapshot rows are written: the Worker's D1 database. */
export interface SnapshotTarget {
  describe: string;
  /** Runs the statements in order, each on its own (every one is all-or-nothing); rejects at the first that fails. */
  execute(statements: Iterable<string>): Promise<void>;
}

/** The part of the Workers D1 binding API loading snapshots uses. */
export interface D1Like {
  prepare(sql: string): unknown;
  batch(statements: never[]): Promise<unknown>;
}

/**
 * The local D1 is a SQLite file that `wrangler dev` may have open too (live ratings written
 * meanwhile): a batch that finds it locked is tried again, which is safe because a batch is one
 * transaction.
 */
function batchWithRetry(db: D1Like, statements: string[], describe: string, onRetry?: BusyRetryOptions["onRetry"]): Promise<void> {
  return retryWhileBusy(async () => void (await db.batch(statements.map((sql) => db.prepare(sql)) as never[])), {
    what: `writing to ${describe}`,
    onRetry,
  });
}

/**
 * A SnapshotTarget over a D1 binding: statements go in batches (one round trip and one
 * transaction each). `pauseMs` between batches leaves the database to other writers and readers
 * (the local D1's SQLite file is shared with a running `wrangler dev`).
 */
export function d1SnapshotTarget(
  db: D1Like,
  describe: string,
  opts: { perBatch?: number; pauseMs?: number; onRetry?: BusyRetryOptions["onRetry"] } = {},
): SnapshotTarget {
  const perBatch = opts.perBatch ?? 16;
  return {
    describe,
    async execute(statements) {
      let batch: string[] = [];
      const flush = async (): Promise<void> => {
        if (batch.length > 0) await batchWithRetry(db, batch, describe, opts.onRetry);
        batch = [];
        if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
      };
      for (const sql of statements) {
        batch.push(sql);
        if (batch.length === perBatch) await flush();
      }
      await flush();
    },
  };
}

/** The part of the Workers R2 binding API publishing uses (wrangler's platform proxy, workerd). */
export interface R2BucketLike {
  get(key: string): Promise<{ arrayBuffer(): Promise<ArrayBuffer>; etag: string } | null>;
  put(key: string, value: Uint8Array, options: { httpMetadata: { contentType: string }; onlyIf?: { etagMatches: string } }): Promise<unknown>;
  head(key: string): Promise<{ size: number } | null>;
}

/** An R2Target over an R2 binding, with conditional puts. */
export function bindingTarget(bucket: R2BucketLike, describe: string, close: () => Promise<void> = async () => {}): R2Target {
  return {
    describe,
    async get(key) {
      const obj = await bucket.get(key);
      return obj ? { bytes: new Uint8Array(await obj.arrayBuffer()), etag: obj.etag } : null;
    },
    async put(key, bytes, contentType, ifEtag) {
      const stored = await bucket.put(key, bytes, { httpMetadata: { contentType }, ...(ifEtag ? { onlyIf: { etagMatches: ifEtag } } : {}) });
      return stored !== null; // R2 answers null when the condition failed
    },
    async size(key) {
      return (await bucket.head(key))?.size ?? null;
    },
    close,
  };
}

const CONTENT_TYPES: Record<string, string> = {
  ".onnx": "application/octet-stream",
  ".bin": "application/octet-stream",
  ".json": "application/json",
};

function contentType(file: string): string {
  return CONTENT_TYPES[file.slice(file.lastIndexOf("."))] ?? "application/octet-stream";
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The files of a bundle to upload, manifest last, each checked against the manifest. */
async function checkedFiles(bundle: Bundle): Promise<{ name: string; bytes: Uint8Array }[]> {
  const files: { name: string; bytes: Uint8Array }[] = [];
  for (const [key, info] of Object.entries(bundle.manifest.files)) {
    const name = BUNDLE_FILES[key as keyof typeof BUNDLE_FILES];
    const bytes = bundle.files.get(name);
    if (!bytes) throw new Error(`${name} is missing from the bundle of ${bundle.manifest.version}: run \`npm run export\` again; nothing was uploaded`);
    if (bytes.byteLength !== info.bytes || (await sha256(bytes)) !== info.sha256) {
      throw new Error(`${name} does not match manifest.json (size or sha256): run \`npm run export\` again; nothing was uploaded`);
    }
    files.push({ name, bytes });
  }
  const manifest = bundle.files.get(BUNDLE_FILES.manifest);
  if (!manifest) throw new Error("manifest.json is missing from the bundle; nothing was uploaded");
  files.push({ name: BUNDLE_FILES.manifest, bytes: manifest });
  // checksums only say the files are the ones exported: what they hold must be servable too
  const byKey: BundleFileBytes = {};
  for (const key of Object.keys(bundle.manifest.files) as (keyof BundleFileBytes)[]) byKey[key] = bundle.files.get(BUNDLE_FILES[key]);
  const problems = contentProblems(bundle.manifest, byKey);
  if (problems.length > 0)
    throw new Error(
      `${describeProblems(bundle.manifest.version, problems)}. Nothing was uploaded: train and export the model again (npm run train, npm run export)`,
    );
  return files;
}

async function readPointer(target: R2Target): Promise<{ pointer: CurrentPointer; created: string; etag: string } | null> {
  const stored = await target.get(R2_POINTER);
  if (!stored) return null;
  let pointer: CurrentPointer;
  try {
    pointer = JSON.parse(new TextDecoder().decode(stored.bytes)) as CurrentPointer;
  } catch {
    // an unreadable pointer serves nothing: replacing it (conditionally) is always forward
    return { pointer: { version: "", manifest: "", published: "" }, created: "", etag: stored.etag };
  }
  let created = pointer.created ?? "";
  if (!created && pointer.manifest) {
    const m = await target.get(pointer.manifest);
    try {
      created = m ? (JSON.parse(new TextDecoder().decode(m.bytes)) as Manifest).created : "";
    } catch {
      created = "";
    }
  }
  return { pointer, created, etag: stored.etag };
}

export interface PublishResult {
  pointer: CurrentPointer;
  /** false: this version was already the served one, and nothing was written. */
  changed: boolean;
}

export async function publishBundle(bundle: Bundle, target: R2Target, opts: { log?: (line: string) => void; force?: boolean } = {}): Promise<PublishResult> {
  const log = opts.log ?? (() => {});
  const { manifest } = bundle;
  const inD1 = manifest.per_user === "d1";
  if (inD1 && !target.snapshots) {
    throw new Error(`${manifest.version} keeps its per-user data in D1, and ${target.describe} has no D1 database to load it into; nothing was uploaded`);
  }
  const files = await checkedFiles(bundle);
  const current = await readPointer(target);
  if (current?.pointer.version === manifest.version) {
    const sizes = await Promise.all(files.map((f) => target.size(r2Key(manifest.version, f.name))));
    if (sizes.every((s, i) => s === files[i].bytes.byteLength)) {
      log(`${manifest.version} is already the published version: nothing to do`);
      return { pointer: current.pointer, changed: false };
    }
  }
  if (current?.created && current.created > manifest.created && !opts.force) {
    throw new Error(
      `R2 serves ${current.pointer.version} (created ${current.created}), newer than ${manifest.version} (created ${manifest.created}): refusing to roll back. Export a newer model, or pass --force to publish an older one on purpose`,
    );
  }
  for (const f of files) {
    const key = r2Key(manifest.version, f.name);
    log(`uploading ${key} (${f.bytes.byteLength} bytes) to ${target.describe}`);
    await target.put(key, f.bytes, contentType(f.name));
    const stored = await target.size(key);
    if (stored !== f.bytes.byteLength) {
      throw new Error(`${key}: R2 holds ${stored ?? "nothing"}, expected ${f.bytes.byteLength} bytes; ${R2_POINTER} was not changed`);
    }
  }
  if (inD1 && target.snapshots) {
    // the rows are in place before the pointer names the version: no request meets it without them
    const counts: SnapshotRows = { users: 0, rows: 0, bytes: 0 };
    const started = performance.now();
    log(`loading ${manifest.version}'s per-user data into ${target.snapshots.describe}`);
    await target.snapshots.execute(snapshotStatements(manifest, bundle.files, counts));
    log(`loaded ${counts.users} users' snapshots (${counts.rows} rows, ${counts.bytes} bytes) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  const publishedAt = new Date();
  const pointer: CurrentPointer = {
    version: manifest.version,
    manifest: r2Key(manifest.version, BUNDLE_FILES.manifest),
    published: publishedAt.toISOString(),
    created: manifest.created,
    manifest_copy: manifest,
  };
  // the versions served before stay named: a Worker that cannot load this one serves the newest of them that loads
  const previous = nextPrevious(current?.pointer ?? null, manifest.version);
  if (previous.length > 0) pointer.previous = previous;
  const body = new TextEncoder().encode(JSON.stringify(pointer));
  const switched = await target.put(R2_POINTER, body, "application/json", current?.etag);
  if (!switched) {
    throw new Error(`${R2_POINTER} changed while ${manifest.version} was uploading (another publish?): the pointer was not moved; run publish again`);
  }
  if ((await target.size(R2_POINTER)) !== body.byteLength) throw new Error(`${R2_POINTER} could not be verified after upload`);
  log(`${R2_POINTER} -> ${manifest.version}`);
  if (inD1 && target.snapshots) await pruneSnapshots(target.snapshots, [manifest.version, ...previous.map((p) => p.version)], log);
  if (target.snapshots && isSqlSafeVersion(manifest.version)) await recordPublish(target.snapshots, manifest, publishedAt, log);
  return { pointer, changed: true };
}

/** Appends the publication to the Worker's audit log (actor "cli"). The version is served either way: a failure is reported, not thrown. */
async function recordPublish(db: SnapshotTarget, manifest: Manifest, publishedAt: Date, log: (line: string) => void): Promise<void> {
  try {
    await db.execute([publishAuditStatement(manifest, publishedAt)]);
  } catch (err) {
    log(`could not add the publication to the audit log in ${db.describe} (${(err as Error).message}); ${manifest.version} is published all the same`);
  }
}

/**
 * Drops the snapshot rows of every version but the served one and those the pointer keeps as
 * previous versions (isolates that have not refreshed yet still serve the one before, and an
 * isolate that cannot load the served one falls back to them). The new version is served either way: a failure
 * here is reported, not thrown.
 */
async function pruneSnapshots(snapshots: SnapshotTarget, keep: string[], log: (line: string) => void): Promise<void> {
  try {
    // (an unreadable previous pointer leaves "" here: nothing to keep for it)
    await snapshots.execute([pruneStatement(keep.filter(isSqlSafeVersion))]);
  } catch (err) {
    log(
      `could not drop older versions' snapshot rows from ${snapshots.describe} (${(err as Error).message}); they only take space: the next publish tries again`,
    );
  }
}
