// Trains one model on a split: choose its parameters on valid (never on test), refit with the
// chosen ones, evaluate valid and test, and write artifacts/<model>/metrics.json.
import { join } from "node:path";
import { METRICS_FILE, type MetricsFile, type TuningRow, modelDir } from "../contract/artifacts.ts";
import { engine } from "../engine/kernels.ts";
import { evaluate } from "../eval/evaluate.ts";
import type { ModelFactory, Params } from "../models/recommender.ts";
import type { Split } from "../protocol/protocols.ts";
import { writeJsonAtomic } from "../util/fs-atomic.ts";

/** The metric parameters are selected by, on valid. */
export const SELECTION_METRIC = "ndcg@10";

export interface TrainOptions {
  /** Parameters fixed by the user; they are never tuned. */
  overrides?: Params;
  tune?: boolean;
  ks?: readonly number[];
  artifactsDir?: string;
  log?: (line: string) => void;
}

export async function trainModel(factory: ModelFactory, split: Split, opts: TrainOptions = {}): Promise<MetricsFile> {
  const log = opts.log ?? (() => {});
  const overrides = opts.overrides ?? {};
  const ks = opts.ks ?? [10, 20];
  const ctx = { seed: split.seed, log };
  const base = { ...factory.defaults, ...overrides };
  const tuning: TuningRow[] = [];

  // Only grid entries that do not touch a user-fixed parameter are candidates.
  const candidates = factory.grid.filter((g) => Object.keys(g).every((k) => !(k in overrides)));
  let params: Params = base;
  if ((opts.tune ?? true) && split.valid && candidates.length > 1) {
    let best = Number.NEGATIVE_INFINITY;
    for (const candidate of candidates) {
      const p = { ...base, ...candidate };
      const metrics = await engine().scopedAsync(async () => {
        const model = factory.create(p);
        await model.fit(split.train, ctx);
        return evaluate(model, split, "valid", { ks }).metrics;
      });
      tuning.push({ params: p, valid: metrics });
      const score = metrics[SELECTION_METRIC];
      log(`${factory.name} ${describe(p)}: valid ${SELECTION_METRIC} ${score.toFixed(4)}`);
      if (score > best) {
        best = score;
        params = p;
      }
    }
  }

  const model = factory.create(params);
  const t0 = performance.now();
  await model.fit(split.train, ctx);
  const fitSeconds = (performance.now() - t0) / 1000;
  const valid = split.valid ? evaluate(model, split, "valid", { ks }) : null;
  const test = evaluate(model, split, "test", { ks });
  const result: MetricsFile = {
    model: factory.name,
    dataset: split.dataset,
    protocol: split.protocol,
    seed: split.seed,
    params,
    counts: split.counts,
    valid: valid?.metrics ?? null,
    test: test.metrics,
    fit_seconds: round(fitSeconds),
    eval_seconds: round(test.seconds),
    tuning,
    created: new Date().toISOString(),
  };
  if (opts.artifactsDir) writeJsonAtomic(join(opts.artifactsDir, modelDir(factory.name), METRICS_FILE), result);
  return result;
}

function describe(p: Params): string {
  return Object.entries(p).map(([k, v]) => `${k}=${v}`).join(" ");
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
