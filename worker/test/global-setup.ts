/// <reference path="./provided.d.ts" />
// Runs in Node before the Workers tests: trains a small LightGCN on a generated graph and
// exports it with the real exporter, twice (two versions), and hands the bundles' bytes to the
// tests inside workerd.
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { exportBundle, readEmbeddings } from "../../training/src/export/bundle.ts";
import type { Dataset } from "../../training/src/data/parse.ts";
import { lightgcn } from "../../training/src/models/lightgcn.ts";
import { trainModel } from "../../training/src/pipeline/train-model.ts";
import { PROTOCOLS, buildSplit } from "../../training/src/protocol/protocols.ts";
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
  const movies = Array.from({ length: 120 }, (_, k) => ({
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
      rating: Uint8Array.from(rating),
      timestamp: new Int32Array(user.length),
    },
    movies,
    users: [],
  };
}

/** Trains the fixture LightGCN and exports its bundle; returns the bundle's folder. */
export async function fixtureBundleDir(version: string, seed: number): Promise<string> {
  const data = generatedDataset();
  const split = buildSplit(data, PROTOCOLS.recbole, seed);
  const artifacts = mkdtempSync(join(tmpdir(), "edgerec-fixture-"));
  const metrics = await trainModel(lightgcn, split, {
    overrides: { dim: 16, epochs: 4, batch: 512, lr: 0.01, threads: 1 },
    artifactsDir: artifacts,
  });
  const dir = join(artifacts, "lightgcn");
  exportBundle(metrics, readEmbeddings(dir, split.counts.users, split.counts.items), data, split, artifacts, version);
  return dir;
}

async function bundle(version: string, seed: number): Promise<FixtureBundle> {
  const dir = await fixtureBundleDir(version, seed);
  const files: Record<string, string> = {};
  for (const f of readdirSync(dir)) files[f] = readFileSync(join(dir, f)).toString("base64");
  return { version, files };
}

export default async function setup(project: TestProject): Promise<void> {
  project.provide("bundles", [await bundle("fixture-v1", 1), await bundle("fixture-v2", 2)]);
}
