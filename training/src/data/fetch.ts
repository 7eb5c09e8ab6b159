// Makes a MovieLens dataset available under <dataDir>/<name>/, either by copying it from a
// local folder (MOVIELENS_DIR / --from) or by downloading the official archive, verifying
// its md5 and unzipping it. Every path goes through a temp file or temp folder that is renamed
// into place only when complete, so a failure never leaves a partial dataset behind.
import { createHash } from "node:crypto";
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Readable, Transform } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { pipeline } from "node:stream/promises";
import { unzipSync } from "fflate";
import { type DatasetSpec, requiredFiles } from "./datasets.ts";
import { type Dataset, loadDataset } from "./parse.ts";
import { progressBar } from "../util/progress.ts";
import { tempPathFor } from "../util/fs-atomic.ts";

export interface FetchOptions {
  /** Folder that holds one sub-folder per dataset (as ../shared/datasets does). */
  from?: string | undefined;
  /** Where datasets live in the project; default "data". */
  dataDir?: string;
  /** Re-fetch even when a complete copy is present. */
  force?: boolean;
  log?: (line: string) => void;
}

export class DatasetError extends Error {
  override name = "DatasetError";
}

export function datasetDir(spec: DatasetSpec, dataDir = "data"): string {
  return resolve(dataDir, spec.name);
}

export function isComplete(dir: string, spec: DatasetSpec): boolean {
  return requiredFiles(spec).every((f) => existsSync(join(dir, f)));
}

/** Returns the folder holding the dataset, fetching it first when needed. */
export async function ensureDataset(spec: DatasetSpec, opts: FetchOptions = {}): Promise<string> {
  const log = opts.log ?? (() => {});
  const target = datasetDir(spec, opts.dataDir);
  if (!opts.force && isComplete(target, spec)) {
    log(`${spec.name}: already present in ${target}`);
    return target;
  }
  if (!spec.url && !opts.from) {
    throw new DatasetError(`${spec.name} is not downloaded but generated: run \`npm run data -- --synthetic ${spec.name.replace(/^synthetic-/, "")}\` first`);
  }
  mkdirSync(resolve(opts.dataDir ?? "data"), { recursive: true });
  const staging = tempPathFor(target);
  try {
    if (opts.from) {
      const zip = join(resolve(opts.from), `${spec.name}.zip`);
      if (!existsSync(join(resolve(opts.from), spec.name)) && existsSync(zip)) {
        // the official archive: its md5 is pinned here, or published by GroupLens beside it
        const bytes = readFileSync(zip);
        const md5 = createHash("md5").update(bytes).digest("hex");
        const expected = spec.md5 ?? publishedMd5(readLocalMd5(`${zip}.md5`), `${zip}.md5`);
        if (md5 !== expected)
          throw new DatasetError(`${zip}: checksum mismatch (md5 ${md5}, expected ${expected}): not the official ${spec.name} archive; nothing was copied.`);
        extract(spec, bytes, staging);
        log(`${spec.name}: extracted from ${zip} (md5 verified)`);
      } else {
        copyFromFolder(spec, resolve(opts.from), staging);
        await verifyCopy(spec, join(resolve(opts.from), spec.name), staging);
        log(`${spec.name}: copied from ${resolve(opts.from, spec.name)} (parsed and counted: it matches the official files)`);
      }
    } else {
      await downloadAndExtract(spec, staging, log);
    }
    rmSync(target, { recursive: true, force: true });
    renameSync(staging, target);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return target;
}

function copyFromFolder(spec: DatasetSpec, from: string, staging: string): void {
  const source = join(from, spec.name);
  const missing = requiredFiles(spec).filter((f) => !existsSync(join(source, f)));
  if (missing.length > 0) {
    throw new DatasetError(
      `${source} does not hold ${spec.name} (missing ${missing.join(", ")}). ` +
        `MOVIELENS_DIR / --from must name a folder with one sub-folder per dataset, e.g. ../shared/datasets.`,
    );
  }
  mkdirSync(staging, { recursive: true });
  for (const f of [...requiredFiles(spec), ...spec.extra]) {
    if (existsSync(join(source, f))) copyFileSync(join(source, f), join(staging, f));
  }
}

/**
 * A folder has no archive checksum to verify: parse every file (a malformed line fails with its
 * file and line) and compare the row counts with the official dataset's.
 */
async function verifyCopy(spec: DatasetSpec, source: string, staging: string): Promise<void> {
  let data: Dataset;
  try {
    data = await loadDataset(spec, staging);
  } catch (err) {
    throw new DatasetError(`${source}: ${(err as Error).message.replace(staging, source)}; nothing was copied.`);
  }
  if (!spec.expected) return;
  // releases without a users file count the distinct users of the ratings
  const users = spec.files.users ? data.users.length : new Set(data.ratings.user).size;
  const found = { ratings: data.ratings.length + (data.duplicatesMerged ?? 0), movies: data.movies.length, users };
  for (const key of ["ratings", "movies", "users"] as const) {
    if (found[key] !== spec.expected[key]) {
      throw new DatasetError(
        `${join(source, spec.files[key] ?? spec.files.ratings)} holds ${found[key].toLocaleString("en-US")} ${key}, the official ${spec.name} has ${spec.expected[key].toLocaleString("en-US")}: not the ${spec.name} files, or a changed copy; nothing was copied.`,
      );
    }
  }
}

function readLocalMd5(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    throw new DatasetError(`${path} is missing: the archive's checksum, as GroupLens publishes it beside the zip, is needed to verify it; nothing was copied.`);
  }
}

/** The md5 in a checksum file as GroupLens publishes them ("<md5>  <file>" or "MD5 (<file>) = <md5>"). */
export function publishedMd5(text: string, where: string): string {
  const m = /\b([0-9a-f]{32})\b/i.exec(text);
  if (!m) throw new DatasetError(`${where} holds no md5 checksum ("${text.trim().slice(0, 80)}"); nothing was kept.`);
  return m[1].toLowerCase();
}

/** The archive's expected md5: pinned in the spec, or the one GroupLens publishes at <url>.md5. */
async function expectedMd5(spec: DatasetSpec, url: string): Promise<string> {
  if (spec.md5) return spec.md5;
  let response: Response;
  try {
    response = await fetch(`${url}.md5`, { signal: AbortSignal.timeout(Number(process.env.EDGEREC_DOWNLOAD_IDLE_MS ?? DOWNLOAD_IDLE_MS)) });
  } catch (err) {
    throw new DatasetError(`${spec.name}: cannot fetch the published checksum ${url}.md5 (${causeOf(err)}); nothing was downloaded.`);
  }
  if (!response.ok) throw new DatasetError(`${spec.name}: ${url}.md5 answered HTTP ${response.status}; without the checksum nothing is downloaded.`);
  return publishedMd5(await response.text(), `${url}.md5`);
}

async function downloadAndExtract(spec: DatasetSpec, staging: string, log: (line: string) => void): Promise<void> {
  const zipPath = `${staging}.zip`;
  const url = spec.url;
  if (!url) throw new DatasetError(`${spec.name} has no download`);
  try {
    const expected = await expectedMd5(spec, url);
    log(`${spec.name}: downloading ${url} (expected md5 ${expected})`);
    const md5 = await download(url, zipPath, spec.name);
    if (md5 !== expected) {
      throw new DatasetError(
        `${spec.name}: checksum mismatch for ${url}: md5 ${md5}, expected ${expected}. ` +
          `The download is corrupt or not the official archive; nothing was kept. Try again, or point MOVIELENS_DIR at a local copy.`,
      );
    }
    extract(spec, readFileSync(zipPath), staging);
    log(`${spec.name}: verified (md5 ${md5}) and extracted`);
  } finally {
    rmSync(zipPath, { force: true });
  }
}

/** A download that receives no byte for this long (connecting included) is abandoned. */
export const DOWNLOAD_IDLE_MS = 30_000;

/** Streams `url` to `dest`, returning the body's md5. */
async function download(url: string, dest: string, label: string): Promise<string> {
  const idleMs = Number(process.env.EDGEREC_DOWNLOAD_IDLE_MS ?? DOWNLOAD_IDLE_MS);
  const controller = new AbortController();
  let idle: NodeJS.Timeout | undefined;
  const stalled = (): string =>
    `${label}: no data from ${url} for ${idleMs / 1000} s; the download was abandoned and nothing was kept. Check the network, or set MOVIELENS_DIR to a folder holding the dataset.`;
  const resetIdle = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => controller.abort(), idleMs);
  };
  resetIdle();
  try {
    return await downloadWith(url, dest, label, controller.signal, resetIdle, stalled);
  } finally {
    clearTimeout(idle);
  }
}

async function downloadWith(url: string, dest: string, label: string, signal: AbortSignal, onData: () => void, stalled: () => string): Promise<string> {
  let response: Response;
  try {
    response = await fetch(url, { signal });
  } catch (err) {
    if (signal.aborted) throw new DatasetError(stalled());
    throw new DatasetError(`${label}: cannot reach ${url} (${causeOf(err)}). Check the network, or set MOVIELENS_DIR to a folder holding the dataset.`);
  }
  if (!response.ok || !response.body) {
    throw new DatasetError(`${label}: ${url} answered HTTP ${response.status} ${response.statusText}; nothing was downloaded.`);
  }
  const total = Number(response.headers.get("content-length") ?? 0);
  const hash = createHash("md5");
  let received = 0;
  const bar = total > 0 ? progressBar(`${label} download`, total, "{bar} {percentage}% | {value}/{total} bytes") : null;
  // The file is the pipeline's last stage, so a failure destroys it through the pipeline, with
  // its error handled: destroying it by hand while a write was pending threw an uncaught
  // ERR_STREAM_DESTROYED.
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      onData();
      received += chunk.length;
      hash.update(chunk);
      bar?.update(received);
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), counter, createWriteStream(dest));
  } catch (err) {
    if (signal.aborted) throw new DatasetError(stalled());
    throw new DatasetError(
      `${label}: download of ${url} broke off after ${received}${total ? ` of ${total}` : ""} bytes (${causeOf(err)}); nothing was kept. Try again.`,
    );
  } finally {
    bar?.stop();
  }
  if (total > 0 && received !== total) {
    throw new DatasetError(`${label}: download of ${url} is truncated: ${received} of ${total} bytes; nothing was kept. Try again.`);
  }
  return hash.digest("hex");
}

function extract(spec: DatasetSpec, zip: Uint8Array, staging: string): void {
  // The official archives hold one top folder (ml-1m/, ml-32m/, ...); keep the files by base
  // name, and inflate only those (ML-32M's archive holds tags and links too).
  const wanted = new Set([...requiredFiles(spec), ...spec.extra]);
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(zip, { filter: (file) => wanted.has(file.name.split("/").pop() ?? "") && file.name.split("/").length <= 2 });
  } catch (err) {
    throw new DatasetError(`${spec.name}: the archive is not a readable zip (${causeOf(err)}).`);
  }
  mkdirSync(staging, { recursive: true });
  const written = new Set<string>();
  for (const [path, bytes] of Object.entries(entries)) {
    const base = path.split("/").pop() ?? "";
    if (wanted.has(base) && path.split("/").length <= 2) {
      writeFileSync(join(staging, base), bytes);
      written.add(base);
    }
  }
  const missing = requiredFiles(spec).filter((f) => !written.has(f));
  if (missing.length > 0) {
    throw new DatasetError(`${spec.name}: the archive lacks ${missing.join(", ")}; it is not the MovieLens archive expected.`);
  }
}

function causeOf(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
  }
  return String(err);
}
