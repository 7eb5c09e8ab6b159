// npm run data: make MovieLens available under data/, or generate a synthetic dataset with a
// MovieLens release's shape for scale runs.
import { resolve } from "node:path";
import { Command, Option } from "commander";
import { datasetSpec } from "../data/datasets.ts";
import { ensureDataset } from "../data/fetch.ts";
import { SYNTHETIC_SHAPES, writeSyntheticDataset } from "../data/synthetic.ts";
import { DEFAULT_SEED } from "../protocol/protocols.ts";
import { progressBar } from "../util/progress.ts";
import { addDataOptions, integer, runCli } from "./options.ts";

const program = addDataOptions(
  new Command("data").description(
    "Fetch MovieLens into data/<dataset>/: copied from MOVIELENS_DIR / --from when given, else downloaded from GroupLens and verified by md5 (pinned, or the one GroupLens publishes beside the archive). With --synthetic, generate data/synthetic-<shape>/ instead.",
  ),
)
  .option("--force", "fetch again even if a complete copy exists", false)
  .addOption(
    new Option("--synthetic <shape>", "generate a seeded dataset with this release's counts of users, movies and ratings (scale runs only)").choices(
      Object.keys(SYNTHETIC_SHAPES),
    ),
  )
  .option("--seed <n>", "seed of the synthetic data", integer, DEFAULT_SEED)
  .addHelpText("after", "\nMovieLens is for research use; acknowledge GroupLens and do not redistribute it (https://grouplens.org/datasets/movielens/).");

program.parse();
const opts = program.opts<{ dataset: string; from?: string; dataDir: string; force: boolean; synthetic?: string; seed: number }>();

await runCli(async () => {
  if (opts.synthetic) {
    const shape = SYNTHETIC_SHAPES[opts.synthetic];
    const dir = resolve(opts.dataDir, `synthetic-${opts.synthetic}`);
    const started = performance.now();
    const bar = progressBar(`synthetic-${opts.synthetic}`, shape.users, "{bar} {value}/{total} users", { linesWithoutTty: true });
    writeSyntheticDataset(shape, dir, opts.seed, (u) => bar.update(u));
    bar.update(shape.users);
    bar.stop();
    console.log(
      `synthetic-${opts.synthetic} written to ${dir} in ${((performance.now() - started) / 1000).toFixed(1)} s: ${shape.users.toLocaleString("en-US")} users, ${shape.movies.toLocaleString("en-US")} movies, ${shape.ratings.toLocaleString("en-US")} ratings (seed ${opts.seed}). For scale runs only: quality figures on it mean nothing.`,
    );
    return;
  }
  const dir = await ensureDataset(datasetSpec(opts.dataset), { from: opts.from, dataDir: opts.dataDir, force: opts.force, log: (l) => console.log(l) });
  console.log(`${opts.dataset} ready in ${dir}`);
});
