// npm run compare: every model on the headline protocol, the tutorial's models on the
// tutorial's protocol, and artifacts/report/ with the tables and charts.
import { Command } from "commander";
import { HEADLINE_MODELS, TUTORIAL_MODELS, runComparison } from "../report/compare.ts";
import { comparisonMarkdown, writeReport } from "../report/write.ts";
import { DEFAULT_SEED } from "../protocol/protocols.ts";
import { addDataOptions, integer, runCli } from "./options.ts";

const program = addDataOptions(new Command("compare"))
  .description("Train and evaluate every model (full ranking) and write artifacts/report/{comparison.md, comparison.json, report.html}.")
  .option("--seed <n>", "seed of the splits and of every random choice", integer, DEFAULT_SEED)
  .option("--artifacts <dir>", "output folder", "artifacts")
  .option("--models <names>", "comma-separated models for the headline table", HEADLINE_MODELS.join(","))
  .option("--tutorial-models <names>", "comma-separated models for the tutorial-protocol table", TUTORIAL_MODELS.join(","));
program.parse();
const o = program.opts<{ dataset: string; from?: string; dataDir: string; seed: number; artifacts: string; models: string; tutorialModels: string }>();

await runCli(async () => {
  const controller = new AbortController();
  process.once("SIGINT", () => {
    console.error("\nstopping after the current model's best checkpoint (Ctrl-C again to quit now)");
    controller.abort();
    process.once("SIGINT", () => process.exit(130));
  });
  const c = await runComparison({
    ...o,
    models: o.models.split(","),
    tutorialModels: o.tutorialModels.split(","),
    log: (l) => console.error(l),
    signal: controller.signal,
  });
  const dir = await writeReport(c, o.artifacts);
  console.log(`\n${comparisonMarkdown(c)}\nwritten to ${dir}/ in ${c.total_seconds.toFixed(0)} s`);
});
