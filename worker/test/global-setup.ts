/// <reference path="./provided.d.ts" />
// Runs in Node before the Workers tests: trains a small LightGCN on a generated graph and
// exports it with the real pipeline (the one `npm run train` runs), twice (two versions), then an EASE bundle (ranked from
// histories), a blend bundle (ranked from user and history) and fixture-v1's model with its
// per-user data left in R2 and in D1, then LightGCN as large catalogues serve it (from histories,
// int8 candidates, per-user data in D1), and hands the bundles' bytes to the tests inside workerd.
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import type { PerUserStore } from "../../training/src/contract/artifacts.ts";
import type { Dataset } from "../../training/src/data/parse.ts";
import { blend } from "../../training/src/models/blend.ts";
import { ease } from "../../training/src/models/ease.ts";
import { lightgcn } from "../../training/src/models/lightgcn.ts";
import { runPipeline } from "../../training/src/pipeline/pipeline.ts";
import { Rng } from "../../training/src/util/rng.ts";
import type { FixtureBundle } from "./fixture-types.ts";

/** 150 users rating 30..60 of 120 movies each, with taste groups so the model learns something. */
function generatedDataset(): Dataset {
  const rng = new Rng(11);
  const user: number[] = [],
    item: number[] = [],
    rating: number[] = [];
  for (let u = 1; u <= 150; u++) {
    const seen = new Set<number>();
    const n = 30 + rng.int(31);
    while (seen.size < n) seen.add(rng.next() < 0.8 ? 1 + 3 * rng.int(40) + (u % 3) : 1 + rng.int(120));
    for (const i of seen) {
      user.push(u);
      item.push(i);
      rating.push(1 + rng.int(5));
    }
  }
  // movies 121..123, liked by three users each, and 124, disliked by one: below the protocol's
  // 10-core, so the model has no vector for them, but they are served (by the fallback)
  for (const [movieId, raters, stars] of [
    [121, [1, 4, 7], 5],
    [122, [2, 5, 8], 5],
    [123, [3, 6, 9], 4],
    [124, [10], 1],
  ] as const) {
    for (const u of raters) {
      user.push(u);
      item.push(movieId);
      rating.push(stars);
    }
  }
  const movies = Array.from({ length: 124 }, (_, k) => ({
    movieId: k + 1,
    title: `Movie ${k + 1} (${1950 + k})`,
    year: 1950 + k,
    genres: [["Drama"], ["Comedy"], ["Action", "Sci-Fi"]][k % 3],
  }));
  return {
    name: "ml-100k",
    ratings: {
      length: user.length,
      user: Int32Array.from(user),
      item: Int32Array.from(item),
      rating: Float32Array.from(rating),
      timestamp: new Int32Array(user.length),
    },
    movies,
    users: [],
  };
}

const FIXTURE_MODELS = {
  // a model that ranks known users by their trained vector, with fold-in, similar and because graphs
  lightgcn: { factory: lightgcn, overrides: { dim: 16, epochs: 4, batch: 512, lr: 0.01, threads: 1 } },
  // a model that ranks every user from their history (one graph, no item embeddings)
  ease: { factory: ease, overrides: { lambda: 50 } },
  // a model that ranks from the user's index and history (one graph; -1 folds a new user in)
  blend: { factory: blend, overrides: { ease_lambda: 50, threads: 1 } },
  // LightGCN as large catalogues serve it: from histories, int8 candidates ranked by the Worker's kernel
  compact: { factory: lightgcn, overrides: { dim: 16, epochs: 4, batch: 512, lr: 0.01, threads: 1, serve_from: "history", item_precision: "compact" } },
};

/** Trains a fixture model and exports its bundle; returns the bundle's folder. */
export async function fixtureBundleDir(
  version: string,
  seed: number,
  model: keyof typeof FIXTURE_MODELS = "lightgcn",
  perUser?: PerUserStore,
): Promise<string> {
  const artifacts = mkdtempSync(join(tmpdir(), "edgerec-fixture-"));
  const { factory, overrides } = FIXTURE_MODELS[model];
  let bundleDir: string | null = null;
  await runPipeline({
    data: generatedDataset(),
    dataset: "ml-100k",
    protocol: "recbole",
    seed,
    models: [factory],
    params: overrides,
    tune: false,
    artifacts,
    bundle: { version: () => version, perUser },
    onModelReady: (_model, dir) => {
      bundleDir = dir;
    },
  });
  if (!bundleDir) throw new Error(`the fixture ${model} model was trained but not exported`);
  return bundleDir;
}

async function bundle(version: string, seed: number, model: keyof typeof FIXTURE_MODELS = "lightgcn", perUser?: PerUserStore): Promise<FixtureBundle> {
  const dir = await fixtureBundleDir(version, seed, model, perUser);
  const files: Record<string, string> = {};
  for (const f of readdirSync(dir)) files[f] = readFileSync(join(dir, f)).toString("base64");
  return { version, files };
}

export default async function setup(project: TestProject): Promise<void> {
  project.provide("bundles", [
    await bundle("fixture-v1", 1),
    await bundle("fixture-v2", 2),
    await bundle("fixture-ease", 1, "ease"),
    await bundle("fixture-blend", 1, "blend"),
    // fixture-v1's model again, with its per-user data left in R2
    await bundle("fixture-r2", 1, "lightgcn", "r2"),
    // and with its per-user data in D1
    await bundle("fixture-d1", 1, "lightgcn", "d1"),
    // the large-catalogue shape: served from histories, int8 candidates, per-user data in D1
    await bundle("fixture-compact", 1, "compact", "d1"),
  ]);
}
