// The one interface every model implements, as in `implicit` and RecBole: fit on the train
// matrix, then score any contiguous range of users over all items. Evaluation, tuning and
// export only ever see this interface.
import type { Csr } from "../protocol/csr.ts";

export type Params = Record<string, number | string | boolean>;

export interface FitContext {
  seed: number;
  log: (line: string) => void;
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
}

/** How a model is made, with its default parameters and the grid tuned on valid. */
export interface ModelFactory {
  name: string;
  description: string;
  defaults: Params;
  /** Candidate settings to choose from on the valid set (each merged over defaults). */
  grid: Params[];
  create(params: Params): Recommender;
}
