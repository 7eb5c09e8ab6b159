// npm run bench:seed-spread: how much a model's test NDCG@10 moves from one training seed to the
// next on the SAME split. The retrain gate (docs/retraining.md) takes its default tolerance from
// this spread: a candidate that is worse by less than that is within the noise of training.
// Prints each seed's figure on stderr and one JSON line at the end.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { modelFactory } from "../src/models/registry.ts";
import { prepare } from "../src/pipeline/prepare.ts";
import { trainModel } from "../src/pipeline/train-model.ts";
import { integer } from "../src/cli/options.ts";
import { DEFAULT_SEED } from "../src/protocol/protocols.ts";

const opts = new Command("bench:seed-spread")
  .description("Train one model with several seeds on one fixed split and print the mean and sd of its test NDCG@10.")
  .option("--model <name>", "model", "lightgcn")
  .option("--dataset <name>", "MovieLens dataset", "ml-100k")
  .option("--protocol <name>", "protocol", "recbole")
  .option("--seeds <n>", "how many seeds (1..n)", integer, 5)
  .option("--from <dir>", "datasets folder", process.env.MOVIELENS_DIR)
  .parse()
  .opts<{ model: string; dataset: string; protocol: string; seeds: number; from?: string }>();

const log = (line: string): void => console.error(line);
const { split } = await prepare({ dataset: opts.dataset, protocol: opts.protocol, seed: DEFAULT_SEED, from: opts.from, log });
const scratch = mkdtempSync(join(tmpdir(), "seed-spread-"));
const ndcg: number[] = [];
try {
  for (let seed = 1; seed <= opts.seeds; seed++) {
    // the split stays the one above; only the model's own randomness (init, sampling) changes
    const metrics = await trainModel(modelFactory(opts.model), { ...split, seed }, { tune: false, artifactsDir: scratch });
    ndcg.push(metrics.test["ndcg@10"]);
    log(`seed ${seed}: test ndcg@10 ${metrics.test["ndcg@10"].toFixed(4)} (fit ${metrics.fit_seconds.toFixed(1)} s)`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
const mean = ndcg.reduce((a, b) => a + b, 0) / ndcg.length;
const sd = Math.sqrt(ndcg.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, ndcg.length - 1));
console.log(
  JSON.stringify({ model: opts.model, dataset: opts.dataset, protocol: opts.protocol, split_seed: DEFAULT_SEED, seeds: ndcg.length, ndcg10: ndcg, mean, sd }),
);
