// Writes the split as TSV files of original MovieLens ids, so anyone can recompute our
// metrics from artifacts/split/ alone, with the catalogue a bundle serves beside it; and reads
// them back, so export works from artifacts/split/ without the raw data.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { type FallbackFile, type MovieMeta, type PopularFile, SPLIT_DIR, SPLIT_FILES, SPLIT_HEADER, type SplitMeta } from "../contract/artifacts.ts";
import { type Csr, csrFromTriples, nnz } from "../protocol/csr.ts";
import { type Split, protocolSpec } from "../protocol/protocols.ts";
import { tempPathFor, writeJsonAtomic } from "../util/fs-atomic.ts";
import type { Catalogue } from "../export/catalogue.ts";

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
 * Writes artifacts/split/ and its catalogue unless it already holds this exact split. Returns
 * the folder. With `keys` (a user's own file whose ids were not integers), keys.json maps the
 * ids back.
 */
export function writeSplit(split: Split, catalogue: Catalogue, artifactsDir: string, keys?: { users: string[] | null; items: string[] | null }): string {
  const dir = join(artifactsDir, SPLIT_DIR);
  const metaPath = join(dir, SPLIT_FILES.meta);
  const same =
    existsSync(metaPath) &&
    existsSync(join(dir, SPLIT_FILES.rated)) &&
    existsSync(join(dir, SPLIT_FILES.catalogue)) &&
    existsSync(join(dir, SPLIT_FILES.fallback)) &&
    existsSync(join(dir, SPLIT_FILES.popular)) &&
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
  writeTsv(
    join(dir, SPLIT_FILES.rated),
    catalogue.rated,
    split.userIds,
    Int32Array.from(catalogue.movies, (m) => m.movieId),
  );
  writeJsonAtomic(join(dir, SPLIT_FILES.catalogue), catalogue.movies);
  writeJsonAtomic(join(dir, SPLIT_FILES.fallback), catalogue.fallback);
  writeJsonAtomic(join(dir, SPLIT_FILES.popular), catalogue.popular);
  const meta: SplitMeta = { dataset: split.dataset, protocol: split.protocol, seed: split.seed, counts: split.counts, created: new Date().toISOString() };
  writeJsonAtomic(metaPath, meta);
  return dir;
}

/** A TSV of ids as (user id, item id) pairs; throws with the line of anything else. */
function readPairs(path: string): { users: Int32Array; items: Int32Array } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new Error(`${path} is missing: run \`npm run train\` again to write the split`);
  }
  const header = Buffer.from(`${SPLIT_HEADER}\n`);
  if (!bytes.subarray(0, header.length).equals(header)) throw new Error(`${path}: the first line is not "${SPLIT_HEADER.replace("\t", "\\t")}"`);
  // parsed byte by byte: tens of millions of lines never become strings
  let lines = 0;
  for (let p = header.length; p < bytes.length; p++) if (bytes[p] === 10) lines++;
  const users = new Int32Array(lines);
  const items = new Int32Array(lines);
  let n = 0;
  let field = 0;
  let value = 0;
  let digits = 0;
  for (let p = header.length; p < bytes.length; p++) {
    const b = bytes[p];
    if (b >= 48 && b <= 57) {
      value = value * 10 + (b - 48);
      digits++;
    } else if (b === 9 && field === 0 && digits > 0) {
      users[n] = value;
      field = 1;
      value = digits = 0;
    } else if (b === 10 && field === 1 && digits > 0) {
      items[n++] = value;
      field = value = digits = 0;
    } else {
      throw new Error(`${path}, line ${n + 2}: not "user id<TAB>movie id"; run \`npm run train\` again to rewrite the split`);
    }
  }
  if (field !== 0 || digits !== 0) throw new Error(`${path}: the last line is cut short; run \`npm run train\` again to rewrite the split`);
  return { users, items };
}

/** Internal indices of `ids` in the ascending `order` (every id is in it). */
function indicesIn(order: Int32Array, ids: Int32Array): Int32Array {
  const index = new Map(Array.from(order, (id, i) => [id, i]));
  return Int32Array.from(ids, (id) => index.get(id) ?? -1);
}

/** The distinct values of several arrays, ascending. */
function distinctSorted(...arrays: Int32Array[]): Int32Array {
  const seen = new Set<number>();
  for (const a of arrays) for (const v of a) seen.add(v);
  return Int32Array.from(seen).sort();
}

/**
 * Reads artifacts/split/ back: the split (internal indices as training numbered them: ids
 * ascending; the train matrix without its ratings, which serving never reads) and its catalogue.
 */
export function readSplit(artifactsDir: string): { split: Split; catalogue: Catalogue } {
  const dir = join(artifactsDir, SPLIT_DIR);
  const metaPath = join(dir, SPLIT_FILES.meta);
  let meta: SplitMeta;
  try {
    meta = JSON.parse(readFileSync(metaPath, "utf8")) as SplitMeta;
  } catch {
    throw new Error(`${metaPath} is missing or unreadable: run \`npm run train\` first (it writes the split)`);
  }
  const spec = protocolSpec(meta.protocol);
  const train = readPairs(join(dir, SPLIT_FILES.train));
  const valid = spec.split.kind === "per-user" ? readPairs(join(dir, SPLIT_FILES.valid)) : null;
  const test = readPairs(join(dir, SPLIT_FILES.test));
  const parts = [train, ...(valid ? [valid] : []), test];
  // every user and item of a split has an interaction in it: the ids are those the files name
  const userIds = distinctSorted(...parts.map((p) => p.users));
  const itemIds = distinctSorted(...parts.map((p) => p.items));
  const csr = (p: { users: Int32Array; items: Int32Array }): Csr =>
    csrFromTriples(userIds.length, itemIds.length, indicesIn(userIds, p.users), indicesIn(itemIds, p.items));
  const split: Split = {
    dataset: meta.dataset,
    protocol: spec.name,
    seed: meta.seed,
    userIds,
    itemIds,
    train: csr(train),
    valid: valid ? csr(valid) : null,
    test: csr(test),
    counts: meta.counts,
  };
  const found = { users: userIds.length, items: itemIds.length, train: nnz(split.train), valid: split.valid ? nnz(split.valid) : 0, test: nnz(split.test) };
  for (const [key, n] of Object.entries(found)) {
    if (meta.counts[key as keyof typeof found] !== n)
      throw new Error(
        `${dir}: ${SPLIT_FILES.meta} counts ${meta.counts[key as keyof typeof found]} ${key}, the files hold ${n}; run \`npm run train\` again to rewrite the split`,
      );
  }
  const cataloguePath = join(dir, SPLIT_FILES.catalogue);
  const movies = readJson<MovieMeta[]>(cataloguePath);
  if (!Array.isArray(movies) || movies.length < itemIds.length || itemIds.some((id, i) => movies[i].movieId !== id))
    throw new Error(`${cataloguePath} does not list the split's ${itemIds.length} movies first, in order; run \`npm run train\` again`);
  const servedIds = Int32Array.from(movies, (m) => m.movieId);
  const ratedPath = join(dir, SPLIT_FILES.rated);
  const ratedPairs = readPairs(ratedPath);
  const ratedUsers = indicesIn(userIds, ratedPairs.users);
  const ratedItems = indicesIn(servedIds, ratedPairs.items);
  if (ratedUsers.includes(-1) || ratedItems.includes(-1))
    throw new Error(`${ratedPath} names a user or movie the split does not have; run \`npm run train\` again`);
  const fallbackPath = join(dir, SPLIT_FILES.fallback);
  const fallback = readJson<FallbackFile>(fallbackPath);
  const extras = movies.length - itemIds.length;
  if (
    fallback.neighbours?.length !== extras * fallback.k ||
    fallback.weights?.length !== extras * fallback.k ||
    fallback.neighbours.some((i) => !(i >= 0 && i < itemIds.length))
  )
    throw new Error(`${fallbackPath} does not describe the catalogue's ${extras} movies outside the split; run \`npm run train\` again`);
  const popular = readJson<PopularFile>(join(dir, SPLIT_FILES.popular));
  return {
    split,
    catalogue: { movies, rated: csrFromTriples(userIds.length, movies.length, ratedUsers, ratedItems), fallback, popular },
  };
}

/** A JSON file of the split, or a clear error. */
function readJson<T>(path: string): T {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    throw new Error(`${path} is missing or unreadable: run \`npm run train\` again (it writes the catalogue with the split)`);
  }
}
