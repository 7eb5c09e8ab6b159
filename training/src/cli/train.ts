// npm run train: fit models on the protocol's split, evaluate with full ranking, write metrics,
// and export each exportable model's serving bundle (the pipeline in pipeline/pipeline.ts).
import { Command, InvalidArgumentError, Option } from "commander";
import { DEVICES, type Device } from "../engine/backend.ts";
import { MODELS } from "../models/registry.ts";
import type { Params } from "../models/recommender.ts";
import { runPipeline } from "../pipeline/pipeline.ts";
import {
  type DataOptions,
  type OwnDataOptions,
  type ProtocolOptions,
  addDataOptions,
  addOwnDataOptions,
  addProtocolOptions,
  ownData,
  runCli,
} from "./options.ts";

function param(value: string, previous: Params): Params {
  const m = /^([A-Za-z_][\w-]*)=(.+)$/.exec(value);
  if (!m) throw new InvalidArgumentError(`"${value}" is not key=value (e.g. --param lambda=500).`);
  const n = Number(m[2]);
  return { ...previous, [m[1]]: m[2] === "true" ? true : m[2] === "false" ? false : Number.isFinite(n) ? n : m[2] };
}

const program = addOwnDataOptions(addProtocolOptions(addDataOptions(new Command("train"))))
  .description(
    "Train and evaluate models (full ranking over all items), write artifacts/<model>/metrics.json and export each exportable model's serving bundle beside it.",
  )
  .option("--model <names>", `comma-separated models: ${MODELS.map((m) => m.name).join(", ")}`, "lightgcn")
  .option("--param <key=value>", "fix a model parameter (repeatable); fixed parameters are not tuned", param, {})
  .option("--no-tune", "skip choosing parameters on valid; use the defaults")
  .addOption(
    new Option(
      "--device <device>",
      "where LightGCN and BPR-MF train: cpu (WebAssembly SIMD threads) or gpu (WebGPU through Dawn; needs a Vulkan driver, see README)",
    )
      .choices([...DEVICES])
      .default("cpu"),
  )
  .option("--json", "print the metrics as JSON instead of a table", false);

program.parse();
const opts = program.opts<
  DataOptions &
    OwnDataOptions &
    ProtocolOptions & {
      model: string;
      param: Params;
      tune: boolean;
      json: boolean;
      device: Device;
    }
>();

await runCli(async () => {
  const log = (line: string): void => console.error(line);
  // First Ctrl-C: iterative training stops after the current step, keeps its best checkpoint,
  // and is evaluated and exported as usual. Second Ctrl-C: quit at once.
  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(130);
    log("\nstopping: finishing the current step, keeping the best checkpoint (Ctrl-C again to quit now)");
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  const { results, table } = await runPipeline({
    ...opts,
    custom: ownData(opts),
    models: opts.model.split(","),
    params: opts.param,
    device: opts.device,
    signal: controller.signal,
    log,
  }).finally(() => process.off("SIGINT", onSigint));
  console.log(opts.json ? JSON.stringify(results, null, 2) : `\n${table}`);
});
