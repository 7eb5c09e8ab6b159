// Trains one model on a split: choose its parameters on valid (never on test), refit with the
// chosen ones, evaluate valid and test, and write artifacts/<model>/metrics.json with the
// model's trained state (what export builds the bundle from; see export/model-state.ts).
import { appendFileSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BUNDLE_FILES, LOG_FILE, METRICS_FILE, type MetricValues, type MetricsFile, type TuningRow, modelDir } from "../contract/artifacts.ts";
import { type TrainedState, servingShape, trainedState, writeTrainedState } from "../export/model-state.ts";
import type { GraphBackend } from "../engine/backend.ts";
import { sharedKernelMemory } from "../engine/create.ts";
import { VALID_SAMPLE_USERS, evaluate, userSample } from "../eval/evaluate.ts";
import type { EpochRecord, FitContext, ModelFactory, Params, Recommender } from "../models/recommender.ts";
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
  /** Aborting stops iterative training; the best checkpoint is kept and evaluated. */
  signal?: AbortSignal;
  /** Report the tutorial's capped recall beside the standard metrics (comparison only). */
  cappedRecall?: boolean;
  /** The backend graph models train on (default: the CPU backend, per model). */
  backend?: GraphBackend;
  /** Called with the final fitted model, while its memory is still live (fold-in study). */
  withModel?: (model: Recommender) => void | Promise<void>;
  /** Called with the final model's trained state (host copies, which outlive the model): what export builds the bundle from. */
  onState?: (state: TrainedState) => void;
}

export async function trainModel(factory: ModelFactory, split: Split, opts: TrainOptions = {}): Promise<MetricsFile> {
  const log = opts.log ?? (() => {});
  const overrides = opts.overrides ?? {};
  const ks = opts.ks ?? [10, 20];
  const sample = userSample(split.counts.users, VALID_SAMPLE_USERS, split.seed) ?? undefined;
  if (sample && split.valid)
    log(
      `valid metrics on a fixed sample of ${sample.length.toLocaleString("en-US")} of ${split.counts.users.toLocaleString("en-US")} users (test ranks every user)`,
    );
  const validOn = { ks, users: sample };
  const ctx: FitContext = {
    seed: split.seed,
    log,
    signal: opts.signal,
    validate: split.valid ? async (m) => (await evaluate(m, split, "valid", validOn)).metrics : undefined,
    backend: opts.backend,
    // the pipeline hands models the process's kernel memory; each model frees its own part
    memory: sharedKernelMemory(),
  };
  const base = { ...factory.defaults, ...overrides };
  const tuning: TuningRow[] = [];

  // Only grid entries that do not touch a user-fixed parameter are candidates.
  const candidates = factory.grid.filter((g) => Object.keys(g).every((k) => !(k in overrides)));
  let params: Params = base;
  if ((opts.tune ?? true) && split.valid && candidates.length > 1) {
    let best = Number.NEGATIVE_INFINITY;
    for (const candidate of candidates) {
      const p = { ...base, ...candidate };
      const model = factory.create(p);
      let metrics: MetricValues;
      try {
        await model.fit(split.train, ctx);
        metrics = (await evaluate(model, split, "valid", validOn)).metrics;
      } finally {
        model.dispose?.();
      }
      tuning.push({ params: p, valid: metrics });
      const score = metrics[SELECTION_METRIC];
      log(`${factory.name} ${describe(p)}: valid ${SELECTION_METRIC} ${score.toFixed(4)}`);
      if (score > best) {
        best = score;
        params = p;
      }
    }
  }

  // The final model lives only until its metrics and embeddings are written: it frees its memory
  // afterwards, so training several models in one process does not accumulate it.
  const model = factory.create(params);
  try {
    const epochLog = opts.artifactsDir ? new EpochLog(join(opts.artifactsDir, modelDir(factory.name), LOG_FILE)) : null;
    const t0 = performance.now();
    await model.fit(split.train, { ...ctx, onEpoch: (r) => epochLog?.add(r) });
    const fitSeconds = (performance.now() - t0) / 1000;
    epochLog?.close();
    const info = model.fitInfo?.();
    // parameters the model chose on valid while fitting, and the candidates it compared
    if (info?.chosen) params = { ...params, ...info.chosen };
    if (info?.tuning) tuning.push(...info.tuning);
    const valid = split.valid ? await evaluate(model, split, "valid", validOn) : null;
    const test = await evaluate(model, split, "test", { ks, cappedRecall: opts.cappedRecall });
    const result: MetricsFile = {
      model: factory.name,
      dataset: split.dataset,
      protocol: split.protocol,
      seed: split.seed,
      params,
      counts: split.counts,
      valid: valid?.metrics ?? null,
      ...(sample && valid ? { valid_users: valid.users } : {}),
      test: test.metrics,
      fit_seconds: round(fitSeconds),
      eval_seconds: round(test.seconds),
      tuning,
      created: new Date().toISOString(),
      ...(info?.epochs !== undefined ? { epochs: info.epochs, best_epoch: info.best_epoch, train_seconds: info.train_seconds, stopped: info.stopped } : {}),
      // the process's peak resident memory so far (kilobytes from the OS)
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      ...(opts.backend ? { trained_on: opts.backend.description } : {}),
    };
    await opts.withModel?.(model);
    // the fold-in tables take time to build (a ridge fit, EASE's matrix in half precision): only when kept
    if (opts.artifactsDir || opts.onState) {
      const state = trainedState(model);
      const shape = servingShape(state);
      result.recs = shape.recs;
      result.foldin = shape.foldin;
      if (opts.artifactsDir) {
        const dir = join(opts.artifactsDir, modelDir(factory.name));
        writeTrainedState(dir, state);
        // a bundle exported from an earlier training no longer matches this model: export writes the next
        rmSync(join(dir, BUNDLE_FILES.manifest), { force: true });
        writeJsonAtomic(join(dir, METRICS_FILE), result);
      }
      opts.onState?.(state);
    }
    return result;
  } finally {
    model.dispose?.();
  }
}

/** log.jsonl, written under a temp name while training runs and renamed when it ends. */
class EpochLog {
  private readonly tmp: string;

  constructor(private readonly path: string) {
    this.tmp = `${path}.tmp`;
    mkdirSync(join(path, ".."), { recursive: true });
    rmSync(this.tmp, { force: true });
  }

  add(record: EpochRecord): void {
    appendFileSync(this.tmp, `${JSON.stringify(record)}\n`);
  }

  close(): void {
    try {
      renameSync(this.tmp, this.path);
    } catch {
      // a model that reports no epochs leaves no log
    }
  }
}

function describe(p: Params): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
