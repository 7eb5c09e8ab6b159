// The offline job, written once: prepare the split (the last step that reads the raw data),
// then for each model train it (parameters chosen on valid), evaluate it on valid and test, and
// export its serving bundle from its trained state. `npm run train`, `npm run compare`, the
// Workers tests' fixtures (and through the train CLI, `npm start`) all run this function; its
// hooks let a caller act on each model as soon as it is trained or its bundle is ready.
import { join } from "node:path";
import type { Manifest, MetricsFile, PerUserStore } from "../contract/artifacts.ts";
import type { CustomDataOptions } from "../data/custom.ts";
import type { Dataset } from "../data/parse.ts";
import type { Device } from "../engine/backend.ts";
import { createBackend } from "../engine/create.ts";
import { type ExportSource, exportBundle, exportSaved } from "../export/bundle.ts";
import type { TrainedState } from "../export/model-state.ts";
import { modelFactory } from "../models/registry.ts";
import type { ModelFactory, Params } from "../models/recommender.ts";
import type { Split } from "../protocol/protocols.ts";
import { type Prepared, prepare } from "./prepare.ts";
import { checkDevice } from "./run.ts";
import { resultsTable } from "./table.ts";
import { trainModel } from "./train-model.ts";

/** A model to train: its registry name or factory, with parameters fixed for it alone. */
export type ModelChoice = string | ModelFactory | { model: string | ModelFactory; params: Params };

/**
 * Which models get a serving bundle: "each" (every model that has one, as soon as it is
 * trained), "best" (the one with the best valid NDCG@10, once all are trained: what publish
 * would choose) or "none".
 */
export type ExportChoice = "each" | "best" | "none";

export interface PipelineOptions {
  models: readonly ModelChoice[];
  /** Where the data comes from: a MovieLens release, a user's own file, or a dataset in memory. */
  dataset: string;
  custom?: CustomDataOptions | undefined;
  data?: Dataset;
  from?: string | undefined;
  dataDir?: string;
  protocol: string;
  seed: number;
  /** Where each model's folder goes (artifacts/<model>/). */
  artifacts: string;
  /** Where artifacts/split/ goes: `artifacts` by default; null writes no split. */
  splitArtifacts?: string | null;
  /** Parameters fixed for every model (a model's own `params` win). */
  params?: Params;
  tune?: boolean;
  /** Where graph models train: "cpu" (default) or "gpu" (WebGPU). */
  device?: Device;
  /** Cut-offs of the metrics (default 10 and 20). */
  ks?: readonly number[];
  /** Report the tutorial's capped recall beside the standard metrics (comparison only). */
  cappedRecall?: boolean;
  export?: ExportChoice;
  /** The bundle's version (default: model, time and a random suffix) and where its per-user data goes. */
  bundle?: { version?: (model: string) => string; perUser?: PerUserStore };
  /** Aborting stops iterative training after the current step; the best checkpoint is kept, evaluated and exported. */
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** After prepare, before any training. */
  onPrepared?: (prepared: Prepared) => void | Promise<void>;
  /** A model's metrics are written (its bundle, if any, comes next). */
  onModelTrained?: (metrics: MetricsFile) => void | Promise<void>;
  /** A model's bundle is complete in `bundleDir` (manifest written last): it can be published while others train. */
  onModelReady?: (model: string, bundleDir: string, manifest: Manifest) => void | Promise<void>;
}

export interface PipelineResult {
  split: Split;
  results: MetricsFile[];
  /** The bundles written, by model. */
  manifests: Map<string, Manifest>;
  /** The results as a plain-text table, titled with the split. */
  table: string;
}

function choiceOf(c: ModelChoice): { factory: ModelFactory; params: Params } {
  if (typeof c === "string") return { factory: modelFactory(c.trim()), params: {} };
  if ("create" in c) return { factory: c, params: {} };
  return { factory: typeof c.model === "string" ? modelFactory(c.model.trim()) : c.model, params: c.params };
}

/** The exportable model with the best valid NDCG@10 (what publish would serve), or null. */
function bestExportable(results: readonly MetricsFile[]): MetricsFile | null {
  const candidates = results.filter((m) => m.recs && m.valid).sort((a, b) => (b.valid?.["ndcg@10"] ?? 0) - (a.valid?.["ndcg@10"] ?? 0));
  return candidates[0] ?? null;
}

export async function runPipeline(opts: PipelineOptions): Promise<PipelineResult> {
  const log = opts.log ?? (() => {});
  const choices = opts.models.map(choiceOf);
  const tune = opts.tune ?? true;
  const device = opts.device ?? "cpu";
  const exportChoice = opts.export ?? "each";
  checkDevice(
    choices.map((c) => c.factory),
    device,
  );
  const splitArtifacts = opts.splitArtifacts === undefined ? opts.artifacts : opts.splitArtifacts;
  let prepared: Prepared | null = await prepare({ ...opts, artifactsDir: splitArtifacts ?? undefined, log });
  await opts.onPrepared?.(prepared);
  const { split } = prepared;
  const source: ExportSource = { split, catalogue: prepared.catalogue };
  // nothing past this point reads the parsed ratings (export reads the catalogue): letting go of
  // them frees their memory while the models train (half a gigabyte at ML-32M)
  prepared = null;
  const results: MetricsFile[] = [];
  const manifests = new Map<string, Manifest>();
  const exportOptions = (model: string) => ({ log, version: opts.bundle?.version?.(model), perUser: opts.bundle?.perUser });
  const ready = async (model: string, manifest: Manifest): Promise<void> => {
    manifests.set(model, manifest);
    const dir = join(opts.artifacts, model);
    log(`${model}: exported serving bundle ${manifest.version} to ${dir}/`);
    await opts.onModelReady?.(model, dir, manifest);
  };
  // the CPU backend is each model's own (its threads parameter); the GPU is opened once
  const backend = device === "gpu" ? await createBackend("gpu", 1) : undefined;
  if (backend) log(`training on ${backend.description}`);
  try {
    for (const { factory, params } of choices) {
      if (opts.signal?.aborted) break;
      const tuned = tune && split.valid && factory.grid.length > 1;
      log(`training ${factory.name}${tuned ? ` (choosing ${Object.keys(factory.grid[0]).join(", ")} on valid)` : ""}`);
      const kept: { state?: TrainedState } = {};
      const metrics = await trainModel(factory, split, {
        overrides: { ...opts.params, ...params },
        tune,
        ks: opts.ks,
        cappedRecall: opts.cappedRecall,
        artifactsDir: opts.artifacts,
        log,
        signal: opts.signal,
        backend,
        // kept only until this model is exported: the next model's training does not hold it
        onState: exportChoice === "each" ? (s) => (kept.state = s) : undefined,
      });
      log(
        `${factory.name}: fit ${metrics.fit_seconds.toFixed(2)} s, test evaluation ${metrics.eval_seconds.toFixed(2)} s -> ${join(opts.artifacts, factory.name, "metrics.json")}`,
      );
      results.push(metrics);
      await opts.onModelTrained?.(metrics);
      if (kept.state && metrics.recs) await ready(factory.name, await exportBundle(metrics, kept.state, source, opts.artifacts, exportOptions(factory.name)));
    }
    if (exportChoice === "best") {
      const best = bestExportable(results);
      if (best) {
        log(`exporting ${best.model}, the best exportable model on valid, from its saved state`);
        await ready(best.model, await exportSaved(best.model, source, opts.artifacts, exportOptions(best.model)));
      }
    }
  } finally {
    await backend?.close();
  }
  const title = `${split.dataset}, protocol ${split.protocol}, seed ${split.seed} (full ranking over ${split.counts.items} items, ${split.counts.users} users)`;
  return { split, results, manifests, table: `${title}\n${resultsTable(results)}` };
}
