// Writes the split as TSV files of original MovieLens ids, so anyone can recompute our
// metrics from artifacts/split/ alone.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { SPLIT_DIR, SPLIT_FILES, SPLIT_HEADER, type SplitMeta } from "../contract/artifacts.ts";
import type { Csr } from "../protocol/csr.ts";
import type { Split } from "../protocol/protocols.ts";
import { writeFileAtomic, writeJsonAtomic } from "../util/fs-atomic.ts";

function toTsv(m: Csr, userIds: Int32Array, itemIds: Int32Array): string {
  const lines: string[] = [SPLIT_HEADER];
  for (let u = 0; u < m.rows; u++) {
    for (let p = m.indptr[u]; p < m.indptr[u + 1]; p++) lines.push(`${userIds[u]}\t${itemIds[m.indices[p]]}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Writes artifacts/split/ unless it already holds this exact split. Returns the folder. */
export function writeSplit(split: Split, artifactsDir: string): string {
  const dir = join(artifactsDir, SPLIT_DIR);
  const metaPath = join(dir, SPLIT_FILES.meta);
  const same =
    existsSync(metaPath) &&
    (() => {
      const m = JSON.parse(readFileSync(metaPath, "utf8")) as SplitMeta;
      return m.dataset === split.dataset && m.protocol === split.protocol && m.seed === split.seed && JSON.stringify(m.counts) === JSON.stringify(split.counts);
    })();
  if (same) return dir;
  // The meta file goes last and first goes away: a reader never pairs it with stale TSVs.
  rmSync(metaPath, { force: true });
  writeFileAtomic(join(dir, SPLIT_FILES.train), toTsv(split.train, split.userIds, split.itemIds));
  if (split.valid) writeFileAtomic(join(dir, SPLIT_FILES.valid), toTsv(split.valid, split.userIds, split.itemIds));
  else rmSync(join(dir, SPLIT_FILES.valid), { force: true });
  writeFileAtomic(join(dir, SPLIT_FILES.test), toTsv(split.test, split.userIds, split.itemIds));
  const meta: SplitMeta = { dataset: split.dataset, protocol: split.protocol, seed: split.seed, counts: split.counts, created: new Date().toISOString() };
  writeJsonAtomic(metaPath, meta);
  return dir;
}
