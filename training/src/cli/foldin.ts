// npm run foldin: how good fold-in recommendations are, on the same users and on held-out users.
import { join } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { prepare } from "../pipeline/prepare.ts";
import { FOLDIN_GRIDS, foldInStudy, foldInTable } from "../study/foldin.ts";
import { writeFileAtomic, writeJsonAtomic } from "../util/fs-atomic.ts";
import { type DataOptions, type ProtocolOptions, addDataOptions, addProtocolOptions, runCli } from "./options.ts";

function fraction(value: string): number {
  const n = Number(value);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError(`"${value}" is not a fraction in (0, 1).`);
  return n;
}

const program = addProtocolOptions(addDataOptions(new Command("foldin")))
  .description(
    "Measure fold-in two ways: the same users (trained vector vs fold-in from train + valid, ranked on test) and held-out users never trained on (fold in 80%, rank 20%). Writes artifacts/report/foldin.{md,json}.",
  )
  .option(
    "--model <names>",
    `comma-separated models with a fold-in (fold-in grids: ${Object.keys(FOLDIN_GRIDS).join(", ")}; others have none)`,
    "lightgcn,ials,ease",
  )
  .option("--held-out <fraction>", "share of users held out of training", fraction, 0.1);
program.parse();
const opts = program.opts<
  DataOptions &
    ProtocolOptions & {
      model: string;
      heldOut: number;
    }
>();

await runCli(async () => {
  const log = (l: string): void => console.error(l);
  const { split } = await prepare({ ...opts, log });
  const study = await foldInStudy(
    split,
    opts.model.split(",").map((m) => m.trim()),
    opts.heldOut,
    log,
  );
  const table = foldInTable(study);
  const dir = join(opts.artifacts, "report");
  writeJsonAtomic(join(dir, "foldin.json"), study);
  writeFileAtomic(join(dir, "foldin.md"), `# Fold-in on ${study.dataset}, protocol ${study.protocol}, seed ${study.seed}\n\n${table}\n`);
  console.log(`\n${table}\n\nwritten to ${dir}/foldin.md and foldin.json`);
});
