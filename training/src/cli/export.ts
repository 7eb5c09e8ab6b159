// npm run export: (re)write the serving bundle of a trained embedding model.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, Option } from "commander";
import { METRICS_FILE, type MetricsFile, type PerUserStore, modelDir } from "../contract/artifacts.ts";
import { exportBundle } from "../export/bundle.ts";
import { prepare } from "../pipeline/prepare.ts";
import { type OwnDataOptions, addDataOptions, addOwnDataOptions, ownData, runCli } from "./options.ts";

const program = addOwnDataOptions(addDataOptions(new Command("export")))
  .description(
    "Write the serving bundle artifacts/<model>/{model.onnx, foldin.onnx or history.bin, similar.onnx and because.onnx when the model has item embeddings, rated.bin, movies.json, ids.json, manifest.json} from a trained model (lightgcn, mf, ngcf, ials, ease, blend), and evaluate the exported model.onnx: the manifest's metrics are the served graph's. `npm run train` does this already.",
  )
  .option("--model <name>", "trained model to export", "lightgcn")
  .option("--artifacts <dir>", "artifacts folder", "artifacts")
  .addOption(
    new Option(
      "--per-user <store>",
      "where the Worker reads per-user data: bundle (loaded with the model), d1 (rows publish loads into D1, read with the live ratings in one round trip) or r2 (read by range per request); default d1 above 50,000 users",
    ).choices(["bundle", "d1", "r2"]),
  );
program.parse();
const opts = program.opts<OwnDataOptions & { model: string; artifacts: string; from?: string; dataDir: string; perUser?: PerUserStore }>();

await runCli(async () => {
  const dir = join(opts.artifacts, modelDir(opts.model));
  let metrics: MetricsFile;
  try {
    metrics = JSON.parse(readFileSync(join(dir, METRICS_FILE), "utf8")) as MetricsFile;
  } catch {
    throw new Error(`${join(dir, METRICS_FILE)} is missing or unreadable: run \`npm run train -- --model ${opts.model}\` first`);
  }
  const log = (l: string): void => console.error(l);
  const custom = ownData(opts);
  if (metrics.dataset.startsWith("custom-") && !custom)
    throw new Error(`${opts.model} was trained on your own ratings (${metrics.dataset}): give the same --ratings (and --items, --columns) again`);
  const { data, split } = await prepare({
    dataset: metrics.dataset,
    custom,
    protocol: metrics.protocol,
    seed: metrics.seed,
    from: opts.from,
    dataDir: opts.dataDir,
    log,
  });
  const manifest = await exportBundle(metrics, data, split, opts.artifacts, { log, perUser: opts.perUser });
  console.log(`exported ${manifest.version} to ${dir}/`);
  for (const [name, f] of Object.entries(manifest.files))
    console.log(`  ${name.padEnd(10)} ${String(f.bytes).padStart(9)} bytes  sha256 ${f.sha256.slice(0, 16)}...`);
  const m = manifest.metrics;
  const served = manifest.files.candidates ? "vector.onnx with the int8 kernel" : "model.onnx";
  console.log(`${served}, test: Recall@10 ${m["recall@10"].toFixed(4)}, NDCG@10 ${m["ndcg@10"].toFixed(4)}`);
});
