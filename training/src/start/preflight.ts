// What npm start checks before any data or training work, so that a run that cannot succeed
// says why within seconds instead of after minutes: the port is free, and the dataset is
// present, or can be copied from MOVIELENS_DIR, or its download host answers at all.
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { type DatasetSpec, requiredFiles } from "../data/datasets.ts";
import { DatasetError, datasetDir, isComplete } from "../data/fetch.ts";

/** Throws a clear error when something already listens on host:port. */
export function checkPortFree(port: number, host = "127.0.0.1"): Promise<void> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once("error", (err: NodeJS.ErrnoException) => {
      const why = err.code === "EADDRINUSE" ? "is already in use (another npm start or wrangler dev?)" : `cannot be used (${err.code ?? err.message})`;
      fail(new Error(`port ${port} on ${host} ${why}: stop what uses it, or choose another port with --port <n>`));
    });
    probe.listen(port, host, () => probe.close(() => done()));
  });
}

/** How long the download host may take to answer a HEAD request before we call it unreachable. */
export const CONNECT_TIMEOUT_MS = 10_000;

export interface DataSource {
  /** Where the dataset will come from: already in the data folder, copied from a folder, or downloaded. */
  kind: "present" | "copy" | "download";
  dir: string;
}

export interface DataCheckOptions {
  dataDir: string;
  /** MOVIELENS_DIR / --from. */
  from?: string | undefined;
  /** The URL probed for a download (default: the dataset's own). */
  probeUrl?: string;
  connectTimeoutMs?: number;
}

function movielensDirHint(spec: DatasetSpec): string {
  return `point MOVIELENS_DIR at a folder that holds ${spec.name}/ (${requiredFiles(spec).join(", ")}) or ${spec.name}.zip, e.g. \`MOVIELENS_DIR=/path/to/datasets npm start\``;
}

/**
 * Where the dataset will come from, or a DatasetError naming MOVIELENS_DIR when it can come from
 * nowhere: no complete copy in the data folder, MOVIELENS_DIR unset or not holding it, and the
 * download host not answering within the connect timeout. Nothing is written.
 */
export async function checkDataSource(spec: DatasetSpec, opts: DataCheckOptions): Promise<DataSource> {
  const dir = datasetDir(spec, opts.dataDir);
  if (isComplete(dir, spec)) return { kind: "present", dir };
  if (opts.from) {
    const from = resolve(opts.from);
    const folder = join(from, spec.name);
    if (isComplete(folder, spec) || existsSync(join(from, `${spec.name}.zip`))) return { kind: "copy", dir };
    throw new DatasetError(
      `${spec.name} is not in ${dir}, and MOVIELENS_DIR (or --from) = ${from} holds neither ${spec.name}/ with ${requiredFiles(spec).join(", ")} nor ${spec.name}.zip: ${movielensDirHint(spec)}.`,
    );
  }
  const url = opts.probeUrl ?? spec.url;
  if (!url)
    throw new DatasetError(`${spec.name} is generated, not downloaded: run \`npm run data -- --synthetic ${spec.name.replace(/^synthetic-/, "")}\` first`);
  const timeoutMs = opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  try {
    const res = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = (err as Error).name === "TimeoutError" ? `no answer within ${timeoutMs / 1000} s` : (cause?.code ?? cause?.message ?? (err as Error).message);
    throw new DatasetError(
      `${spec.name} is not in ${dir}, MOVIELENS_DIR is not set, and ${new URL(url).host} cannot be reached to download it (${why}). Without a network, ${movielensDirHint(spec)}.`,
    );
  }
  return { kind: "download", dir };
}
