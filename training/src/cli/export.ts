// npm run export: (re)write the serving bundle of a trained model from its saved state and
// artifacts/split/ (never the raw data).
import { join } from "node:path";
import { Command, Option } from "commander";
import { type PerUserStore, modelDir } from "../contract/artifacts.ts";
import { exportSaved } from "../export/bundle.ts";
import { readSplit } from "../pipeline/split-files.ts";
import { runCli } from "./options.ts";

const program = new Command("export")
  .description(
    "Write the serving bundle artifacts/<model>/{model.onnx, foldin.onnx or history.bin, similar.onnx and because.onnx when the model has item embeddings, rated.bin, movies.json, ids.json, manifest.json} of a trained model (lightgcn, mf, ngcf, ials, ease, blend) from the state training saved and artifacts/split/, and evaluate what the Worker runs: the manifest's metrics are the served graph's. `npm run train` does this already.",
  )
  .option("--model <name>", "trained model to export", "lightgcn")
  .option("--artifacts <dir>", "artifacts folder (holding <model>/ and split/)", "artifacts")
  .addOption(
    new Option(
      "--per-user <store>",
      "where the Worker reads per-user data: bundle (loaded with the model), d1 (rows publish loads into D1, read with the live ratings in one round trip) or r2 (read by range per request); default d1 above 50,000 users",
    ).choices(["bundle", "d1", "r2"]),
  );
// Export once re-read the dataset; commands written then still run (the split replaces it).
const FORMER_DATA_OPTIONS = [
  "--dataset <name>",
  "--from <dir>",
  "--data-dir <dir>",
  "--ratings <file>",
  "--items <file>",
  "--columns <map>",
  "--item-columns <map>",
  "--delimiter <char>",
];
for (const flags of FORMER_DATA_OPTIONS) program.addOption(new Option(flags).hideHelp());
program.parse();
const opts = program.opts<{ model: string; artifacts: string; perUser?: PerUserStore } & Record<string, unknown>>();
const ignored = FORMER_DATA_OPTIONS.map((f) => f.split(" ")[0]).filter(
  (f) => opts[f.slice(2).replace(/-(\w)/g, (_, c: string) => c.toUpperCase())] !== undefined,
);

await runCli(async () => {
  const dir = join(opts.artifacts, modelDir(opts.model));
  const log = (l: string): void => console.error(l);
  if (ignored.length > 0) log(`export reads the split and catalogue in ${opts.artifacts}/split/, not the dataset: ${ignored.join(", ")} ignored`);
  const source = readSplit(opts.artifacts);
  const manifest = await exportSaved(opts.model, source, opts.artifacts, { log, perUser: opts.perUser });
  console.log(`exported ${manifest.version} to ${dir}/`);
  for (const [name, f] of Object.entries(manifest.files))
    console.log(`  ${name.padEnd(10)} ${String(f.bytes).padStart(9)} bytes  sha256 ${f.sha256.slice(0, 16)}...`);
  const m = manifest.metrics;
  const served = manifest.files.candidates ? "vector.onnx with the int8 kernel" : "model.onnx";
  console.log(`${served}, test: Recall@10 ${m["recall@10"].toFixed(4)}, NDCG@10 ${m["ndcg@10"].toFixed(4)}`);
});
