// The whole offline job for a list of models: prepare the split, train each, print the table.
import type { MetricsFile } from "../contract/artifacts.ts";
import type { CustomDataOptions } from "../data/custom.ts";
import { exportBundle } from "../export/bundle.ts";
import type { Device } from "../engine/backend.ts";
import { createBackend } from "../engine/create.ts";
import { MODELS, modelFactory } from "../models/registry.ts";
import type { ModelFactory, Params } from "../models/recommender.ts";
import { prepare } from "./prepare.ts";
import { resultsTable } from "./table.ts";
import { trainModel } from "./train-model.ts";

export interface RunOptions {
  models: string[];
  dataset: string;
  /** A user's own ratings file instead of `dataset`. */
  custom?: CustomDataOptions | undefined;
  protocol: string;
  seed: number;
  from?: string | undefined;
  dataDir: string;
  artifacts: string;
  params?: Params;
  tune?: boolean;
  /** Where graph models train: "cpu" (default) or "gpu" (WebGPU). */
  device?: Device;
  log?: (line: string) => void;
}

/** Fails before any work when a model has no kernels on the device (never a silent CPU fallback). */
export function checkDevice(factories: readonly ModelFactory[], device: Device): void {
  const unsupported = factories.filter((f) => !(f.devices ?? ["cpu"]).includes(device));
  if (unsupported.length === 0) return;
  const covered = MODELS.filter((f) => (f.devices ?? ["cpu"]).includes(device)).map((f) => f.name);
  throw new Error(
    `--device ${device}: ${unsupported.map((f) => f.name).join(", ")} train${unsupported.length === 1 ? "s" : ""} on the CPU only (the ${device} backend covers ${covered.join(", ")}). Train ${unsupported.length === 1 ? "it" : "them"} with --device cpu, or leave ${unsupported.length === 1 ? "it" : "them"} out of --model.`,
  );
}

export interface RunResult {
  results: MetricsFile[];
  table: string;
}

export async function runTraining(opts: RunOptions): Promise<RunResult> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const factories = opts.models.map((n) => modelFactory(n.trim()));
  const tune = opts.tune ?? true;
  const device = opts.device ?? "cpu";
  checkDevice(factories, device);
  const { data, split } = await prepare({ ...opts, artifactsDir: opts.artifacts, log });
  const results: MetricsFile[] = [];
  // First Ctrl-C: iterative training stops after the current step, keeps its best checkpoint,
  // and is evaluated and written as usual. Second Ctrl-C: quit at once.
  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(130);
    log("\nstopping: finishing the current step, keeping the best checkpoint (Ctrl-C again to quit now)");
    controller.abort();
  };
  process.on("SIGINT", onSigint);
  // the CPU backend is each model's own (its threads parameter); the GPU is opened once
  const backend = device === "gpu" ? await createBackend("gpu", 1) : undefined;
  if (backend) log(`training on ${backend.description}`);
  try {
    for (const f of factories) {
      if (controller.signal.aborted) break;
      const tuned = tune && split.valid && f.grid.length > 1;
      log(`training ${f.name}${tuned ? ` (choosing ${Object.keys(f.grid[0]).join(", ")} on valid)` : ""}`);
      const r = await trainModel(f, split, { overrides: opts.params ?? {}, tune, artifactsDir: opts.artifacts, log, signal: controller.signal, backend });
      log(`${f.name}: fit ${r.fit_seconds.toFixed(2)} s, test evaluation ${r.eval_seconds.toFixed(2)} s -> ${opts.artifacts}/${f.name}/metrics.json`);
      results.push(r);
      if (r.recs) {
        const m = await exportBundle(r, data, split, opts.artifacts, { log });
        log(`${f.name}: exported serving bundle ${m.version} to ${opts.artifacts}/${f.name}/`);
      }
    }
  } finally {
    process.off("SIGINT", onSigint);
    await backend?.close();
  }
  const title = `${split.dataset}, protocol ${split.protocol}, seed ${split.seed} (full ranking over ${split.counts.items} items, ${split.counts.users} users)`;
  return { results, table: `${title}\n${resultsTable(results)}` };
}
