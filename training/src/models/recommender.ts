// The one interface every model implements, as in `implicit` and RecBole: fit on the train
// matrix, then score any contiguous range of users over all items. Evaluation, tuning and
// export only ever see this interface.
import type { TuningRow } from "../contract/artifacts.ts";
import type { MetricValues } from "../contract/artifacts.ts";
import type { Device, GraphBackend, KernelMemory, SparseRows } from "../engine/backend.ts";
import type { Csr } from "../protocol/csr.ts";
import type { FoldIn } from "./foldin.ts";

export type Params = Record<string, number | string | boolean>;

/** One line of artifacts/<model>/log.jsonl. */
export interface EpochRecord {
  epoch: number;
  loss: number;
  bpr: number;
  reg: number;
  seconds: number;
  valid?: MetricValues;
}

export interface FitContext {
  seed: number;
  log: (line: string) => void;
  /**
   * Valid-set metrics of the model as it stands, for early stopping. Models get numbers, never
   * the held-out interactions themselves.
   */
  validate?: (model: Recommender) => Promise<MetricValues>;
  /**
   * The backend graph models train on (the GPU with --device gpu); without one they train on
   * the CPU backend with their `threads` parameter. Models that have no kernels on it say so.
   */
  backend?: GraphBackend;
  /**
   * The CPU kernels' memory that CPU models (EASE, ItemKNN, iALS, SVD, PureSVD) allocate in;
   * the pipeline passes the process's. Each model frees what it allocated when disposed.
   */
  memory?: KernelMemory;
  onEpoch?: (record: EpochRecord) => void;
  /** Aborted on Ctrl-C: iterative models stop and keep their best checkpoint. */
  signal?: AbortSignal;
}

/** What iterative models report about their training. */
export interface FitInfo {
  epochs: number;
  best_epoch: number;
  train_seconds: number;
  stopped: "converged" | "max-epochs" | "interrupted";
  /** Parameters the model chose on valid while fitting (they replace the given ones in metrics). */
  chosen?: Params;
  /** The candidates it compared on valid to choose them. */
  tuning?: TuningRow[];
}

export interface Recommender {
  readonly name: string;
  readonly params: Params;
  fit(train: Csr, ctx: FitContext): Promise<void>;
  /**
   * Fills out[(u - from) * items + i] with the score of item i for user u, for u in
   * [from, to). Higher is better; masking seen items is the caller's job.
   */
  score(from: number, to: number, out: Float32Array): void;
  /**
   * Models that rank on their own backend: the k best items per user of `users`, with the
   * user's row of `exclude` hidden, -1 padded (see GraphBackend.topK). Evaluation prefers it
   * to `score`, so embeddings trained on a GPU are ranked there.
   */
  rank?(users: Int32Array, exclude: SparseRows, k: number): Promise<Int32Array>;
  /** Frees what the model holds on its backend; the model cannot score afterwards. */
  dispose?(): void;
  /** Iterative models: epochs run, best epoch, training time. */
  fitInfo?(): FitInfo;
  /** Models that end in user and item embeddings (exportable to the serving bundle). */
  embeddings?(): { users: Float32Array; items: Float32Array; dim: number };
  /**
   * How the fitted model scores a history instead of a known user (fold-in), as data the
   * reference scorer and the ONNX exporter both read; null when the model has none.
   * `overrides` changes fold-in-only parameters (chosen on valid) without refitting.
   */
  foldIn?(overrides?: Params): FoldIn | null;
  /**
   * How the serving bundle ranks a known user: "user" (default), by the trained user vector in
   * model.onnx; "history", by the model's fold-in scoring of the user's train history (and index,
   * for fold-ins with known-user parts), so one graph serves known and new users (EASE's B is
   * too large to hold twice).
   */
  readonly serving?: "user" | "history";
}

/** How a model is made, with its default parameters and the grid tuned on valid. */
export interface ModelFactory {
  name: string;
  description: string;
  defaults: Params;
  /** Candidate settings to choose from on the valid set (each merged over defaults). */
  grid: Params[];
  /** Where it trains: every model on "cpu"; LightGCN and BPR-MF on "gpu" too (default ["cpu"]). */
  devices?: readonly Device[];
  create(params: Params): Recommender;
}
