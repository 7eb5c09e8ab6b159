// Base of the models whose fit ends in a scorer (item-item weights or factor matrices): score()
// delegates to it once fit() has set it. The model owns the kernel memory it allocates: fit
// opens its scope in the fit context's engine, dispose frees it.
import { type Engine, engine as processEngine } from "../engine/wasm/kernels.ts";
import type { Csr } from "../protocol/csr.ts";
import type { FitContext, Params, Recommender } from "./recommender.ts";

export interface Scorer {
  score(from: number, to: number, out: Float32Array): void;
}

export abstract class ScorerModel implements Recommender {
  abstract readonly name: string;
  protected scorer: Scorer | null = null;
  private release: (() => void) | null = null;

  constructor(readonly params: Params) {}

  /** Frees anything a previous fit holds, then opens this fit's scope in the context's kernel memory. */
  protected openScope(ctx: FitContext): Engine {
    this.dispose();
    const e = ctx.engine ?? processEngine();
    const mark = e.mark();
    this.release = () => e.release(mark);
    return e;
  }

  dispose(): void {
    this.release?.();
    this.release = null;
    this.scorer = null;
  }

  abstract fit(train: Csr, ctx: FitContext): Promise<void>;

  score(from: number, to: number, out: Float32Array): void {
    if (!this.scorer) throw new Error(`${this.name}: score() before fit()`);
    this.scorer.score(from, to, out);
  }
}
