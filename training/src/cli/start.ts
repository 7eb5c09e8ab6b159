// npm start: the main job on a fresh clone. Today: fetch MovieLens-1M, train and evaluate
// LightGCN beside the quick baselines on the headline protocol, print the table.
// (Later: export, publish, serve.)
import { Command } from "commander";
import { runTraining } from "../pipeline/run.ts";
import { addDataOptions, addProtocolOptions, runCli } from "./options.ts";

/** LightGCN, the product's model, with the baselines that train in seconds. */
const START_MODELS = ["pop", "itemknn", "ease", "lightgcn"];

const program = addProtocolOptions(addDataOptions(new Command("start")))
  .description(`Fetch the data, train and evaluate ${START_MODELS.join(", ")}, print the results table.`);
program.parse();
const opts = program.opts<{ dataset: string; from?: string; dataDir: string; protocol: string; seed: number; artifacts: string }>();

await runCli(async () => {
  const started = performance.now();
  const { table } = await runTraining({ ...opts, models: START_MODELS });
  console.log(`\n${table}\n\nmetrics in ${opts.artifacts}/<model>/metrics.json, split in ${opts.artifacts}/split/ (${((performance.now() - started) / 1000).toFixed(1)} s)`);
});
