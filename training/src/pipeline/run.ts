// The whole offline job for a list of models: prepare the split, train each, print the table.
import type { MetricsFile } from "../contract/artifacts.ts";
import type { CustomDataOptions } from "../data/custom.ts";
import { exportBundle } from "../export/bundle.ts";
import { modelFactory } from "../models/registry.ts";
import type { Params } from "../models/recommender.ts";
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
  log?: (line: string) => void;
}

export interface RunResult {
  results: MetricsFile[];
  table: string;
}

export async function runTraining(opts: RunOptions): Promise<RunResult> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const factories = opts.models.map((n) => modelFactory(n.trim()));
  const tune = opts.tune ?? true;
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
  try {
    for (const f of factories) {
      if (controller.signal.aborted) break;
      const tuned = tune && split.valid && f.grid.length > 1;
      log(`training ${f.name}${tuned ? ` (choosing ${Object.keys(f.grid[0]).join(", ")} on valid)` : ""}`);
      const r = await trainModel(f, split, { overrides: opts.params ?? {}, tune, artifactsDir: opts.artifacts, log, signal: controller.signal });
      log(`${f.name}: fit ${r.fit_seconds.toFixed(2)} s, test evaluation ${r.eval_seconds.toFixed(2)} s -> ${opts.artifacts}/${f.name}/metrics.json`);
      results.push(r);
      if (r.recs) {
        const m = await exportBundle(r, data, split, opts.artifacts, { log });
        log(`${f.name}: exported serving bundle ${m.version} to ${opts.artifacts}/${f.name}/`);
      }
    }
  } finally {
    process.off("SIGINT", onSigint);
  }
  const title = `${split.dataset}, protocol ${split.protocol}, seed ${split.seed} (full ranking over ${split.counts.items} items, ${split.counts.users} users)`;
  return { results, table: `${title}\n${resultsTable(results)}` };
}
