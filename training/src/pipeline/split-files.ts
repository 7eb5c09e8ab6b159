// Writes the split as TSV files of original MovieLens ids, so anyone can recompute our
// metrics from artifacts/split/ alone.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { SPLIT_DIR, SPLIT_FILES, SPLIT_HEADER, type SplitMeta } from "../contract/artifacts.ts";
import type { Csr } from "../protocol/csr.ts";
import type { Split } from "../protocol/protocols.ts";
import { tempPathFor, writeJsonAtomic } from "../util/fs-atomic.ts";

/** Writes the matrix as TSV in chunks (tens of millions of lines never become one string), then renames. */
function writeTsv(path: string, m: Csr, userIds: Int32Array, itemIds: Int32Array): void {
  mkdirSync(join(path, ".."), { recursive: true });
  const tmp = tempPathFor(path);
  const fd = openSync(tmp, "w");
  try {
    let lines: string[] = [SPLIT_HEADER];
    for (let u = 0; u < m.rows; u++) {
      for (let p = m.indptr[u]; p < m.indptr[u + 1]; p++) lines.push(`${userIds[u]}\t${itemIds[m.indices[p]]}`);
      if (lines.length > 100_000) {
        writeSync(fd, `${lines.join("\n")}\n`);
        lines = [];
      }
    }
    if (lines.length > 0) writeSync(fd, `${lines.join("\n")}\n`);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * Writes artifacts/split/ unless it already holds this exact split. Returns the folder. With
 * `keys` (a user's own file whose ids were not integers), keys.json maps the ids back.
 */
export function writeSplit(split: Split, artifactsDir: string, keys?: { users: string[] | null; items: string[] | null }): string {
  const dir = join(artifactsDir, SPLIT_DIR);
  const metaPath = join(dir, SPLIT_FILES.meta);
  const same =
    existsSync(metaPath) &&
    (() => {
      const m = JSON.parse(readFileSync(metaPath, "utf8")) as SplitMeta;
      return m.dataset === split.dataset && m.protocol === split.protocol && m.seed === split.seed && JSON.stringify(m.counts) === JSON.stringify(split.counts);
    })();
  const keysPath = join(dir, SPLIT_FILES.keys);
  if (keys) writeJsonAtomic(keysPath, keys);
  else rmSync(keysPath, { force: true });
  if (same) return dir;
  // The meta file goes last and first goes away: a reader never pairs it with stale TSVs.
  rmSync(metaPath, { force: true });
  writeTsv(join(dir, SPLIT_FILES.train), split.train, split.userIds, split.itemIds);
  if (split.valid) writeTsv(join(dir, SPLIT_FILES.valid), split.valid, split.userIds, split.itemIds);
  else rmSync(join(dir, SPLIT_FILES.valid), { force: true });
  writeTsv(join(dir, SPLIT_FILES.test), split.test, split.userIds, split.itemIds);
  const meta: SplitMeta = { dataset: split.dataset, protocol: split.protocol, seed: split.seed, counts: split.counts, created: new Date().toISOString() };
  writeJsonAtomic(metaPath, meta);
  return dir;
}
