// npm run data: make MovieLens available under data/.
import { Command } from "commander";
import { datasetSpec } from "../data/datasets.ts";
import { ensureDataset } from "../data/fetch.ts";
import { addDataOptions, runCli } from "./options.ts";

const program = addDataOptions(
  new Command("data").description(
    "Fetch MovieLens into data/<dataset>/: copied from MOVIELENS_DIR / --from when given, else downloaded from GroupLens and verified by md5.",
  ),
)
  .option("--force", "fetch again even if a complete copy exists", false)
  .addHelpText("after", "\nMovieLens is for research use; acknowledge GroupLens and do not redistribute it (https://grouplens.org/datasets/movielens/).");

program.parse();
const opts = program.opts<{ dataset: string; from?: string; dataDir: string; force: boolean }>();

await runCli(async () => {
  const dir = await ensureDataset(datasetSpec(opts.dataset), { from: opts.from, dataDir: opts.dataDir, force: opts.force, log: (l) => console.log(l) });
  console.log(`${opts.dataset} ready in ${dir}`);
});
