// npm run bench:rules: what a request's filters and diversity add to ranking, in Node, through the
// Worker's own code (rules/*, scoring.ts's ONNX ranker and, with --kernel, its int8 kernel) over an
// exported bundle, without the HTTP stack whose noise hides fractions of a millisecond on a shared
// machine. Each round ranks one known user without rules, then with each rule set, in turn (A B C
// A B C ...), so drifting load hits every variant alike. Prints one JSON line at the end. A
// benchmark: it asserts nothing.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Command } from "commander";
import * as ort from "onnxruntime-web";
import {
  BUNDLE_FILES,
  type IdMaps,
  type Manifest,
  type MovieMeta,
  decodeInt8Table,
  decodeRated,
  recsTakesHistory,
} from "../../training/src/contract/artifacts.ts";
import { compiledRankKernel } from "../../training/src/export/evaluate-graph.ts";
import { int8Ranker } from "../../training/src/shared/int8-ranker.ts";
import { integer, runCli } from "../../training/src/cli/options.ts";
import { Rng } from "../../training/src/util/rng.ts";
import { catalogueIndex } from "../src/rules/catalogue-index.ts";
import { MMR_POOL, diversify } from "../src/rules/diversity.ts";
import { type RecsFilter, filterMask } from "../src/rules/filter.ts";
import { kernelRanker, onnxRanker } from "../src/scoring.ts";
import type { UserSnapshot } from "../src/user-store.ts";

const o = new Command("bench:rules")
  .description(
    "Time ranking a known user with and without filters and diversity, through the Worker's ranker code in Node (model.onnx, or vector.onnx and the int8 kernel for bundles with candidates.bin), in interleaved rounds.",
  )
  .option("--model <name>", "exported model", "blend")
  .option("--artifacts <dir>", "artifacts folder", "artifacts")
  .option("--rounds <n>", "rounds (each ranks one user once per variant)", integer, 2000)
  .parse()
  .opts<{ model: string; artifacts: string; rounds: number }>();

await runCli(async () => {
  const dir = join(o.artifacts, o.model);
  const read = (f: string): Buffer => readFileSync(join(dir, f));
  const buffer = (b: Buffer): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  const manifest = JSON.parse(read(BUNDLE_FILES.manifest).toString()) as Manifest;
  const movies = JSON.parse(read(BUNDLE_FILES.movies).toString()) as MovieMeta[];
  const ids = JSON.parse(read(BUNDLE_FILES.ids).toString()) as IdMaps;
  const rated = decodeRated(buffer(read(BUNDLE_FILES.rated)));
  const recs = manifest.recs ?? "user";
  const history = recsTakesHistory(recs) ? decodeRated(buffer(read(BUNDLE_FILES.history))) : null;
  ort.env.wasm.wasmPaths = `${pathToFileURL(dirname(createRequire(import.meta.url).resolve("onnxruntime-web"))).href}/`;
  ort.env.wasm.numThreads = 1;
  // a bundle with candidates.bin is ranked as the Worker ranks it: vector.onnx, then the int8 kernel
  const kernel = manifest.files.candidates !== undefined;
  const session = await ort.InferenceSession.create(read(kernel ? BUNDLE_FILES.vector : BUNDLE_FILES.model));
  const ranker = kernel
    ? kernelRanker(ort, manifest.items, session, int8Ranker(compiledRankKernel(), decodeInt8Table(buffer(read(BUNDLE_FILES.candidates)))))
    : onnxRanker(ort, manifest.items, session, history !== null, async () => session);
  const itemIndex = new Map(ids.items.map((id, i) => [id, i]));
  const index = catalogueIndex(movies);
  const genres = [...index.genres.keys()];
  const row = (csr: typeof rated, u: number) => csr.indices.subarray(csr.indptr[u], csr.indptr[u + 1]);
  const snapshot = (u: number): UserSnapshot => ({ index: u, rated: row(rated, u), history: history ? row(history, u) : null });

  const rng = new Rng(5);
  type Variant = { name: string; filter: (r: Rng) => RecsFilter | null; diversity: number };
  const variants: Variant[] = [
    { name: "none", filter: () => null, diversity: 0 },
    { name: "genre_from_1980", filter: (r) => ({ genres: [genres[r.int(genres.length)]], yearMin: 1980 }), diversity: 0 },
    {
      name: "exclude_genres_and_ids",
      filter: (r) => ({ excludeGenres: ["Drama", "Comedy"], exclude: Array.from({ length: 20 }, () => ids.items[r.int(ids.items.length)]) }),
      diversity: 0,
    },
    { name: "include_200", filter: (r) => ({ include: Array.from({ length: 200 }, () => ids.items[r.int(ids.items.length)]) }), diversity: 0 },
    { name: "diversity_0.5", filter: () => null, diversity: 0.5 },
  ];
  const times = new Map(variants.map((v) => [v.name, [] as number[]]));
  for (let round = 0; round < o.rounds; round++) {
    const u = rng.int(rated.users);
    const user = snapshot(u);
    for (const v of variants) {
      const filter = v.filter(rng);
      const t = performance.now();
      // what recommendations.ts does per request: the mask, the ranking, the re-ranking
      const allowed = filter ? filterMask(index, itemIndex, filter) : null;
      const depth = v.diversity > 0 ? MMR_POOL : 10;
      const ranked = await ranker.rankUser(user, depth, Array.from(user.rated), [], allowed);
      if (v.diversity > 0) diversify(index, ranked, 10, v.diversity);
      times.get(v.name)?.push(performance.now() - t);
    }
  }
  await session.release();
  const quantile = (xs: number[], q: number): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(q * s.length))];
  };
  const result: Record<string, { p50_ms: number; p99_ms: number; mean_ms: number }> = {};
  for (const [name, xs] of times) {
    result[name] = {
      p50_ms: Number(quantile(xs, 0.5).toFixed(4)),
      p99_ms: Number(quantile(xs, 0.99).toFixed(4)),
      mean_ms: Number((xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(4)),
    };
    console.error(`${name.padEnd(24)} p50 ${result[name].p50_ms} ms, p99 ${result[name].p99_ms} ms, mean ${result[name].mean_ms} ms`);
  }
  console.log(
    JSON.stringify({ bench: "rules", model: o.model, version: manifest.version, items: manifest.items, ranker: ranker.kind, rounds: o.rounds, result }),
  );
});
