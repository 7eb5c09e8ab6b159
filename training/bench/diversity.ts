// npm run bench:diversity: what the Worker's `diversity` does to accuracy and variety, over the
// protocol's test users. For each test user the exported model.onnx ranks its best MMR_POOL
// movies (what the Worker ranks before it re-ranks), excluding train and valid as the protocol
// does; the shared MMR code (training/src/shared/mmr.ts, the Worker's) re-ranks them at each
// diversity, with genre similarity (what the Worker uses) and, when the bundle has item embeddings,
// with their cosine (the alternative it was measured against). Prints a table on stderr and one
// JSON line at the end. A benchmark: it asserts nothing.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Command } from "commander";
import * as ort from "onnxruntime-web";
import { BUNDLE_FILES, type IdMaps, type Manifest, type MovieMeta, RECS_GRAPH, recsTakesHistory, recsTakesUser } from "../src/contract/artifacts.ts";
import { MetricAccumulator } from "../src/eval/metrics.ts";
import { rowOf } from "../src/protocol/csr.ts";
import { evaluationMask, heldOut } from "../src/protocol/protocols.ts";
import { readSplit } from "../src/pipeline/split-files.ts";
import type { Scored } from "../src/shared/int8-ranker.ts";
import { MMR_POOL, genreBits, genreSimilarity, genresCovered, mmr } from "../src/shared/mmr.ts";

const opts = new Command("bench:diversity")
  .description(
    "R@10, N@10, intra-list distance, genres per list and catalogue coverage over the protocol's test users at several diversity values, with MMR over the exported model's best 100 (genre similarity, and item-embedding cosine when the bundle has embeddings).",
  )
  .option("--model <name>", "exported model (artifacts/<model>/)", "blend")
  .option("--artifacts <dir>", "artifacts folder (holding <model>/ and split/)", "artifacts")
  .option("--levels <list>", "diversity values", "0,0.25,0.5,0.75,1")
  .parse()
  .opts<{ model: string; artifacts: string; levels: string }>();

const K = 10;
const levels = opts.levels.split(",").map(Number);
const dir = join(opts.artifacts, opts.model);
const read = (file: string): Buffer => readFileSync(join(dir, file));
const manifest = JSON.parse(read(BUNDLE_FILES.manifest).toString()) as Manifest;
const movies = JSON.parse(read(BUNDLE_FILES.movies).toString()) as MovieMeta[];
const ids = JSON.parse(read(BUNDLE_FILES.ids).toString()) as IdMaps;
const { split } = readSplit(opts.artifacts);
const items = split.counts.items;
for (let i = 0; i < items; i++)
  if (ids.items[i] !== split.itemIds[i]) throw new Error(`${dir} was not exported from ${opts.artifacts}/split/: item ${i} differs; export it again`);

// item embeddings (LightGCN's, in a blend), row-normalized, for the cosine alternative
let unit: Float32Array | null = null;
try {
  const all = new Float32Array(new Uint8Array(read("embeddings.f32")).buffer);
  const dim = manifest.dim;
  const at = all.length - items * dim;
  if (dim > 0 && at >= 0) {
    unit = all.slice(at, at + items * dim);
    for (let i = 0; i < items; i++) {
      let n = 0;
      for (let c = 0; c < dim; c++) n += unit[i * dim + c] ** 2;
      const s = n > 0 ? 1 / Math.sqrt(n) : 0;
      for (let c = 0; c < dim; c++) unit[i * dim + c] *= s;
    }
  }
} catch {
  unit = null;
}
const cosine = (a: number, b: number): number => {
  if (!unit) return 0;
  const d = manifest.dim;
  let s = 0;
  for (let c = 0; c < d; c++) s += unit[a * d + c] * unit[b * d + c];
  return s;
};
const { bits } = genreBits(movies.map((m) => m.genres));

const dist = createRequire(import.meta.url).resolve("onnxruntime-web");
ort.env.wasm.wasmPaths = `${pathToFileURL(dirname(dist)).href}/`;
ort.env.wasm.numThreads = 1;
const session = await ort.InferenceSession.create(read(BUNDLE_FILES.model));
const recs = manifest.recs ?? "user";
const int64 = (v: ArrayLike<number>): ort.Tensor => new ort.Tensor("int64", BigInt64Array.from(Array.from(v), BigInt), [v.length]);

type Similarity = "genres" | "embeddings";
const kinds: Similarity[] = unit ? ["genres", "embeddings"] : ["genres"];
interface Row {
  metrics: MetricAccumulator;
  ildGenres: number;
  ildEmbeddings: number;
  genres: number;
  lists: number;
  seen: Set<number>;
}
const rows = new Map<string, Row>();
const rowFor = (kind: Similarity, level: number): Row => {
  const key = `${kind}:${level}`;
  let r = rows.get(key);
  if (!r) {
    r = { metrics: new MetricAccumulator([K]), ildGenres: 0, ildEmbeddings: 0, genres: 0, lists: 0, seen: new Set() };
    rows.set(key, r);
  }
  return r;
};

/** Mean pairwise distance of a list (1 - similarity). */
function ild(list: number[], sim: (a: number, b: number) => number): number {
  let sum = 0;
  let pairs = 0;
  for (let a = 0; a < list.length; a++)
    for (let b = a + 1; b < list.length; b++) {
      sum += 1 - sim(list[a], list[b]);
      pairs++;
    }
  return pairs > 0 ? sum / pairs : 0;
}

const mask = evaluationMask(split, "test");
const target = heldOut(split, "test");
const served = manifest.items;
const start = performance.now();
let users = 0;
for (let u = 0; u < split.counts.users; u++) {
  const relevant = rowOf(target, u);
  if (relevant.length === 0) continue;
  const history = rowOf(split.train, u);
  if (recsTakesHistory(recs) && history.length === 0) continue;
  // the protocol's exclusions, and every served movie outside the protocol (as export evaluates)
  const exclude = [...rowOf(mask, u)];
  for (let j = items; j < served; j++) exclude.push(j);
  const out = await session.run({
    ...(recsTakesUser(recs) ? { [RECS_GRAPH.inputs.query]: int64([u]) } : {}),
    ...(recsTakesHistory(recs) ? { [RECS_GRAPH.inputs.history]: int64(history) } : {}),
    [RECS_GRAPH.inputs.k]: int64([Math.min(MMR_POOL, served - exclude.length)]),
    [RECS_GRAPH.inputs.exclude]: int64(exclude),
  });
  const ranked = out[RECS_GRAPH.outputs.items].data as BigInt64Array;
  const scores = out[RECS_GRAPH.outputs.scores].data as Float32Array;
  const pool: Scored[] = Array.from(ranked, (item, r) => ({ item: Number(item), score: scores[r] }));
  const held = new Set(relevant);
  users++;
  for (const kind of kinds) {
    const sim =
      kind === "genres"
        ? (a: number, b: number) => genreSimilarity(bits[pool[a].item], bits[pool[b].item])
        : (a: number, b: number) => cosine(pool[a].item, pool[b].item);
    for (const level of levels) {
      const list = mmr(pool, K, level, sim).map((s) => s.item);
      const row = rowFor(kind, level);
      row.metrics.add(list, list.length, (i) => held.has(i), relevant.length);
      row.ildGenres += ild(list, (a, b) => genreSimilarity(bits[a], bits[b]));
      if (unit) row.ildEmbeddings += ild(list, cosine);
      row.genres += genresCovered(bits, list);
      row.lists++;
      for (const i of list) row.seen.add(i);
    }
  }
}
await session.release();

const table: Record<string, number | string>[] = [];
for (const kind of kinds)
  for (const level of levels) {
    const r = rowFor(kind, level);
    const m = r.metrics.result();
    table.push({
      similarity: kind,
      diversity: level,
      "recall@10": Number(m["recall@10"].toFixed(4)),
      "ndcg@10": Number(m["ndcg@10"].toFixed(4)),
      ild_genres: Number((r.ildGenres / r.lists).toFixed(4)),
      ...(unit ? { ild_embeddings: Number((r.ildEmbeddings / r.lists).toFixed(4)) } : {}),
      genres_per_list: Number((r.genres / r.lists).toFixed(2)),
      coverage: Number((r.seen.size / items).toFixed(4)),
    });
  }
console.error(
  `${opts.model} (${manifest.dataset}, ${manifest.protocol}): ${users} test users, MMR over the best ${MMR_POOL}, ${((performance.now() - start) / 1000).toFixed(1)} s`,
);
console.error(
  table
    .map((r) =>
      Object.entries(r)
        .map(([k, v]) => `${k}=${v}`)
        .join("  "),
    )
    .join("\n"),
);
console.log(
  JSON.stringify({
    bench: "diversity",
    model: opts.model,
    version: manifest.version,
    dataset: manifest.dataset,
    users,
    pool: MMR_POOL,
    coverage_of: items,
    table,
  }),
);
