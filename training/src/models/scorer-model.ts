// Base of the models whose fit ends in a scorer (item-item weights or factor matrices): score()
// delegates to it once fit() has set it. These models train on the CPU backend's dense and
// factor ops; each owns what it allocates there: fit opens its scope, dispose frees it.
import type { DenseBackend } from "../engine/backend.ts";
import { cpuBackend } from "../engine/create.ts";
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

  /**
   * Frees anything a previous fit holds, then opens this fit's scope on the CPU backend over the
   * context's kernel memory, with `threads` threads.
   */
  protected openScope(ctx: FitContext, threads = 1): DenseBackend {
    this.dispose();
    const cpu = cpuBackend(threads, ctx.memory);
    this.release = cpu.openScope();
    return cpu;
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
