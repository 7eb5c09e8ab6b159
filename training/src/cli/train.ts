// npm run train: fit models on the protocol's split, evaluate with full ranking, write metrics.
import { Command, InvalidArgumentError } from "commander";
import { MODELS, modelFactory } from "../models/registry.ts";
import type { Params } from "../models/recommender.ts";
import { prepare } from "../pipeline/prepare.ts";
import { resultsTable } from "../pipeline/table.ts";
import { trainModel } from "../pipeline/train-model.ts";
import type { MetricsFile } from "../contract/artifacts.ts";
import { addDataOptions, addProtocolOptions, runCli } from "./options.ts";

function param(value: string, previous: Params): Params {
  const m = /^([A-Za-z_][\w-]*)=(.+)$/.exec(value);
  if (!m) throw new InvalidArgumentError(`"${value}" is not key=value (e.g. --param lambda=500).`);
  const n = Number(m[2]);
  return { ...previous, [m[1]]: m[2] === "true" ? true : m[2] === "false" ? false : Number.isFinite(n) ? n : m[2] };
}

const program = addProtocolOptions(addDataOptions(new Command("train")))
  .description("Train and evaluate models (full ranking over all items) and write artifacts/<model>/metrics.json.")
  .option("--model <names>", `comma-separated models: ${MODELS.map((m) => m.name).join(", ")}`, "ease")
  .option("--param <key=value>", "fix a model parameter (repeatable); fixed parameters are not tuned", param, {})
  .option("--no-tune", "skip choosing parameters on valid; use the defaults")
  .option("--json", "print the metrics as JSON instead of a table", false);

program.parse();
const opts = program.opts<{
  dataset: string; from?: string; dataDir: string; protocol: string; seed: number; artifacts: string;
  model: string; param: Params; tune: boolean; json: boolean;
}>();

await runCli(async () => {
  const factories = opts.model.split(",").map((n) => modelFactory(n.trim()));
  const log = (line: string): void => console.error(line);
  const { split } = await prepare({ ...opts, artifactsDir: opts.artifacts, log });
  const results: MetricsFile[] = [];
  for (const f of factories) {
    log(`training ${f.name}${opts.tune && split.valid && f.grid.length > 1 ? ` (choosing ${Object.keys(f.grid[0]).join(", ")} on valid)` : ""}`);
    const r = await trainModel(f, split, { overrides: opts.param, tune: opts.tune, artifactsDir: opts.artifacts, log });
    log(`${f.name}: fit ${r.fit_seconds.toFixed(2)} s, test evaluation ${r.eval_seconds.toFixed(2)} s -> ${opts.artifacts}/${f.name}/metrics.json`);
    results.push(r);
  }
  console.log(opts.json ? JSON.stringify(results, null, 2) : `\n${split.dataset}, protocol ${split.protocol}, seed ${split.seed} (full ranking, ${split.counts.items} items)\n${resultsTable(results)}`);
});
