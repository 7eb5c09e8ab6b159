// The tutorial's comparison table, honestly: every model trained and evaluated with full
// ranking on the headline (RecBole) protocol, Recall@K and NDCG@K for K = 1..50, published
// anchors beside them; then the tutorial's four models on the tutorial's own protocol, with its
// hits / min(K, n) "recall" reported under its own name beside the standard recall.
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { LOG_FILE, type MetricsFile, type RecsQuery } from "../contract/artifacts.ts";
import type { Manifest } from "../contract/artifacts.ts";
import type { MetricValues } from "../eval/metrics.ts";
import type { EpochRecord, Params } from "../models/recommender.ts";
import { runPipeline } from "../pipeline/pipeline.ts";
import { progressBar } from "../util/progress.ts";

export const HEADLINE_MODELS = ["pop", "itemknn", "puresvd", "svd", "ials", "ease", "mf", "ngcf", "lightgcn", "blend"];
/** The tutorial's rows: SVD, ALS (Spark), LightGCN, NGCF. */
export const TUTORIAL_MODELS = ["svd", "ials", "lightgcn", "ngcf"];
export const CURVE_KS = Array.from({ length: 50 }, (_, i) => i + 1);

/** Published full-ranking figures on the same ml-1m protocol (test Recall@10 / NDCG@10). */
export const PUBLISHED: Record<string, { source: string; recall10: number; ndcg10: number }[]> = {
  pop: [{ source: "RecBole", recall10: 0.0699, ndcg10: 0.1006 }],
  ease: [{ source: "RecBole", recall10: 0.2139, ndcg10: 0.2865 }],
  lightgcn: [
    { source: "RecBole", recall10: 0.1823, ndcg10: 0.2476 },
    { source: "RecBole-GNN", recall10: 0.1861, ndcg10: 0.2538 },
  ],
};

/** RecBole's best published figures on this protocol, for any model (test). */
export const BEST_PUBLISHED = { recall10: { value: 0.2163, model: "RecVAE" }, ndcg10: { value: 0.2904, model: "ADMM-SLIM" } } as const;

/**
 * Time to quality: training seconds until LightGCN's valid NDCG@10 first reaches the level that
 * RecBole's published LightGCN test NDCG@10 corresponds to on valid. The mapping uses this
 * run's own ratio of valid to test NDCG@10 at its best epoch (valid and test differ in size and
 * masking, so the published test figure cannot be compared with valid directly).
 */
export interface TimeToQuality {
  model: string;
  published_test_ndcg10: number;
  valid_level: number;
  /** Training seconds summed over epochs (validation excluded), or null when never reached. */
  seconds: number | null;
  epoch: number | null;
  seed: number;
  threads: number;
}

export function timeToQuality(r: ModelRow, publishedTestNdcg: number, seed: number): TimeToQuality | null {
  if (!r.valid || r.log.length === 0) return null;
  const level = publishedTestNdcg * (r.valid["ndcg@10"] / r.test["ndcg@10"]);
  let seconds = 0;
  for (const e of r.log) {
    seconds += e.seconds;
    if (e.valid && e.valid["ndcg@10"] >= level) {
      return {
        model: r.model,
        published_test_ndcg10: publishedTestNdcg,
        valid_level: level,
        seconds: Math.round(seconds * 10) / 10,
        epoch: e.epoch,
        seed,
        threads: Number(r.params.threads),
      };
    }
  }
  return { model: r.model, published_test_ndcg10: publishedTestNdcg, valid_level: level, seconds: null, epoch: null, seed, threads: Number(r.params.threads) };
}

/** Recall@10 as the tutorial claims it (min(K, n) denominator, training items not masked). */
export const TUTORIAL_CLAIMS: Record<string, { label: string; recall10: number }> = {
  svd: { label: "SVD", recall10: 0.42 },
  ials: { label: "ALS (Spark)", recall10: 0.45 },
  lightgcn: { label: "LightGCN", recall10: 0.58 },
  ngcf: { label: "NGCF", recall10: 0.61 },
};

export interface ModelRow {
  model: string;
  params: Params;
  fit_seconds: number;
  epochs: number | null;
  best_epoch: number | null;
  test: MetricValues;
  valid: MetricValues | null;
  log: EpochRecord[];
}

/**
 * The model `npm run publish` would serve (best valid NDCG@10 among the exportable models), with
 * the metrics of its exported model.onnx run through the same evaluation.
 */
export interface ServedRow {
  model: string;
  recs: RecsQuery;
  valid: MetricValues | null;
  test: MetricValues;
  /** Bytes of the whole bundle, and of model.onnx alone. */
  bundle_bytes: number;
  model_bytes: number;
}

export interface Comparison {
  created: string;
  total_seconds: number;
  machine: { cpus: number; node: string };
  dataset: string;
  seed: number;
  headline: { protocol: string; counts: MetricsFile["counts"]; rows: ModelRow[] };
  tutorial: { protocol: string; counts: MetricsFile["counts"]; rows: ModelRow[] };
  published: typeof PUBLISHED;
  best_published: typeof BEST_PUBLISHED;
  /** The served model's row (absent when no exportable model was trained). */
  served?: ServedRow | null;
  /** LightGCN's time to RecBole's published LightGCN quality (see timeToQuality). */
  time_to_quality: TimeToQuality | null;
  tutorial_claims: typeof TUTORIAL_CLAIMS;
}

export interface CompareOptions {
  dataset: string;
  seed: number;
  from?: string | undefined;
  dataDir: string;
  artifacts: string;
  models?: string[];
  tutorialModels?: string[];
  log?: (line: string) => void;
  signal?: AbortSignal;
}

function readLog(dir: string): EpochRecord[] {
  const path = join(dir, LOG_FILE);
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as EpochRecord);
}

function row(m: MetricsFile, runDir: string): ModelRow {
  return {
    model: m.model,
    params: m.params,
    fit_seconds: m.fit_seconds,
    epochs: m.epochs ?? null,
    best_epoch: m.best_epoch ?? null,
    test: m.test,
    valid: m.valid,
    log: readLog(join(runDir, m.model)),
  };
}

function servedRow(m: MetricsFile, manifest: Manifest): ServedRow | null {
  if (!m.recs) return null;
  return {
    model: m.model,
    recs: m.recs,
    valid: manifest.valid ?? null,
    test: manifest.metrics,
    bundle_bytes: Object.values(manifest.files).reduce((sum, f) => sum + (f?.bytes ?? 0), 0),
    model_bytes: manifest.files.model.bytes,
  };
}

export async function runComparison(opts: CompareOptions): Promise<Comparison> {
  const log = opts.log ?? (() => {});
  const started = performance.now();
  const headlineModels = opts.models ?? HEADLINE_MODELS;
  const tutorialModels = (opts.tutorialModels ?? TUTORIAL_MODELS).filter((m) => headlineModels.includes(m));
  const bar = progressBar("compare", headlineModels.length + tutorialModels.length, "{bar} {value}/{total} models | {stage}", { linesWithoutTty: true });
  let done = 0;

  const base = { dataset: opts.dataset, seed: opts.seed, from: opts.from, dataDir: opts.dataDir, ks: CURVE_KS, signal: opts.signal };
  const headlineDir = join(opts.artifacts, "report", "runs", "recbole");
  const headlineRows: ModelRow[] = [];
  const chosen = new Map<string, MetricsFile>();
  let served: ServedRow | null = null;
  // every model on the headline protocol; the one publish would serve is exported, and its
  // served graph evaluated, once all are trained
  const headline = await runPipeline({
    ...base,
    protocol: "recbole",
    models: headlineModels,
    artifacts: headlineDir,
    splitArtifacts: opts.artifacts,
    export: "best",
    log: (l) => log(`[recbole] ${l}`),
    onModelTrained: (m) => {
      chosen.set(m.model, m);
      headlineRows.push(row(m, headlineDir));
      log(
        `[recbole] ${m.model}: test Recall@10 ${m.test["recall@10"].toFixed(4)}, NDCG@10 ${m.test["ndcg@10"].toFixed(4)} (fit ${m.fit_seconds.toFixed(1)} s)`,
      );
      bar.update(++done, { stage: `${m.model} done` });
    },
    onModelReady: (model, _dir, manifest) => {
      const m = chosen.get(model);
      served = m ? servedRow(m, manifest) : null;
    },
  });

  // The tutorial's protocol has no valid set: each model keeps the parameters chosen on the
  // headline valid set, iterative ones train for the epochs that were best there.
  const tutorialDir = join(opts.artifacts, "report", "runs", "tutorial");
  const tutorialRows: ModelRow[] = [];
  const tutorialChoices = tutorialModels.flatMap((name) => {
    const h = chosen.get(name);
    return h ? [{ model: name, params: { ...h.params, ...(h.best_epoch ? { epochs: h.best_epoch } : {}) } as Params }] : [];
  });
  const tutorial = await runPipeline({
    ...base,
    protocol: "tutorial",
    models: opts.signal?.aborted ? [] : tutorialChoices,
    tune: false,
    cappedRecall: true,
    artifacts: tutorialDir,
    splitArtifacts: null,
    export: "none",
    log: (l) => log(`[tutorial] ${l}`),
    onModelTrained: (m) => {
      tutorialRows.push(row(m, tutorialDir));
      log(`[tutorial] ${m.model}: Recall@10 ${m.test["recall@10"].toFixed(4)}, hits/min(10, n) ${m.test["recall_capped@10"].toFixed(4)}`);
      bar.update(++done, { stage: `${m.model} done` });
    },
  });
  bar.stop();
  return {
    created: new Date().toISOString(),
    total_seconds: Math.round((performance.now() - started) / 100) / 10,
    machine: { cpus: availableParallelism(), node: process.version },
    dataset: opts.dataset,
    seed: opts.seed,
    headline: { protocol: "recbole", counts: headline.split.counts, rows: headlineRows },
    tutorial: { protocol: "tutorial", counts: tutorial.split.counts, rows: tutorialRows },
    published: PUBLISHED,
    best_published: BEST_PUBLISHED,
    served,
    time_to_quality: (() => {
      const lightgcnRow = headlineRows.find((r) => r.model === "lightgcn");
      const published = PUBLISHED.lightgcn.find((p) => p.source === "RecBole");
      return lightgcnRow && published ? timeToQuality(lightgcnRow, published.ndcg10, opts.seed) : null;
    })(),
    tutorial_claims: TUTORIAL_CLAIMS,
  };
}
