// npm run export: (re)write the serving bundle of a trained embedding model.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command } from "commander";
import { METRICS_FILE, type MetricsFile, modelDir } from "../contract/artifacts.ts";
import { exportBundle, readEmbeddings } from "../export/bundle.ts";
import { prepare } from "../pipeline/prepare.ts";
import { addDataOptions, runCli } from "./options.ts";

const program = addDataOptions(new Command("export"))
  .description(
    "Write artifacts/<model>/{model.onnx, similar.onnx, rated.bin, movies.json, ids.json, manifest.json} from a trained embedding model (lightgcn, mf, ngcf, ials), with the foldin.onnx training wrote when the model has a fold-in. `npm run train` does this already.",
  )
  .option("--model <name>", "trained model to export", "lightgcn")
  .option("--artifacts <dir>", "artifacts folder", "artifacts");
program.parse();
const opts = program.opts<{ model: string; artifacts: string; from?: string; dataDir: string }>();

await runCli(async () => {
  const dir = join(opts.artifacts, modelDir(opts.model));
  let metrics: MetricsFile;
  try {
    metrics = JSON.parse(readFileSync(join(dir, METRICS_FILE), "utf8")) as MetricsFile;
  } catch {
    throw new Error(`${join(dir, METRICS_FILE)} is missing or unreadable: run \`npm run train -- --model ${opts.model}\` first`);
  }
  const log = (l: string): void => console.error(l);
  const { data, split } = await prepare({
    dataset: metrics.dataset,
    protocol: metrics.protocol,
    seed: metrics.seed,
    from: opts.from,
    dataDir: opts.dataDir,
    log,
  });
  const manifest = exportBundle(metrics, readEmbeddings(dir, split.counts.users, split.counts.items), data, split, opts.artifacts);
  console.log(`exported ${manifest.version} to ${dir}/`);
  for (const [name, f] of Object.entries(manifest.files))
    console.log(`  ${name.padEnd(8)} ${String(f.bytes).padStart(9)} bytes  sha256 ${f.sha256.slice(0, 16)}...`);
});
