// Base of the models whose fit ends in a scorer (item-item weights or factor matrices): score()
// delegates to it once fit() has set it.
import type { Csr } from "../protocol/csr.ts";
import type { FitContext, Params, Recommender } from "./recommender.ts";

export interface Scorer {
  score(from: number, to: number, out: Float32Array): void;
}

export abstract class ScorerModel implements Recommender {
  abstract readonly name: string;
  protected scorer: Scorer | null = null;

  constructor(readonly params: Params) {}

  abstract fit(train: Csr, ctx: FitContext): Promise<void>;

  score(from: number, to: number, out: Float32Array): void {
    if (!this.scorer) throw new Error(`${this.name}: score() before fit()`);
    this.scorer.score(from, to, out);
  }
}
