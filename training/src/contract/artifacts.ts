// The artifact contract: every file name, layout and JSON shape under artifacts/, in one
// place, imported by the training pipeline (which writes them) and the Worker (which reads
// them). Paths are relative to the artifacts root.
import type { MetricValues } from "../eval/metrics.ts";

export const SPLIT_DIR = "split";
export const SPLIT_FILES = { train: "train.tsv", valid: "valid.tsv", test: "test.tsv", meta: "split.json" } as const;
/** Header of every split TSV: original MovieLens ids. */
export const SPLIT_HEADER = "user_id\tmovie_id";

export const METRICS_FILE = "metrics.json";
/** One JSON object per epoch: epoch, loss, bpr, reg, seconds, valid metrics when computed. */
export const LOG_FILE = "log.jsonl";

export function modelDir(model: string): string {
  return model;
}

export interface Counts {
  users: number;
  items: number;
  interactions: number;
  train: number;
  valid: number;
  test: number;
}

export interface SplitMeta {
  dataset: string;
  protocol: string;
  seed: number;
  counts: Counts;
  created: string;
}

export interface TuningRow {
  params: Record<string, number | string | boolean>;
  valid: MetricValues;
}

/** artifacts/<model>/metrics.json */
export interface MetricsFile {
  model: string;
  dataset: string;
  protocol: string;
  seed: number;
  params: Record<string, number | string | boolean>;
  counts: Counts;
  /** Metrics on valid (absent when the protocol has no valid set). */
  valid: MetricValues | null;
  test: MetricValues;
  fit_seconds: number;
  eval_seconds: number;
  /** The candidates compared on valid to choose `params` (selection by valid NDCG@10). */
  tuning: TuningRow[];
  created: string;
  /** Iterative models only. */
  epochs?: number;
  best_epoch?: number;
  train_seconds?: number;
  stopped?: "converged" | "max-epochs" | "interrupted";
  /** Peak resident memory of the training process when the file was written. */
  peak_rss_mb: number;
}
