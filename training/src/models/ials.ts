// iALS (Hu, Koren, Volinsky, "Collaborative Filtering for Implicit Feedback Datasets", 2008):
// preference 1 on train interactions and 0 elsewhere, confidence 1 + alpha on the observed
// ones, squared loss over ALL user-item pairs, L2 weight `reg`; alternating least squares with
// an exact Cholesky solve per row (the tutorial's "ALS (Spark)" row; Spark's implicit ALS is
// this algorithm).
import { type Csr, csrTranspose } from "../protocol/csr.ts";
import { Rng } from "../util/rng.ts";
import type { LeastSquaresFoldIn } from "./foldin.ts";
import { defaultThreads, numberParam } from "./params.ts";
import { FactorScorer } from "./factor-scorer.ts";
import type { FitContext, ModelFactory } from "./recommender.ts";
import { ScorerModel } from "./scorer-model.ts";

class Ials extends ScorerModel {
  readonly name = "ials";
  private factors: { users: Float32Array; items: Float32Array; dim: number } | null = null;

  async fit(train: Csr, ctx: FitContext): Promise<void> {
    const d = numberParam(this.params, "factors", (v) => Number.isInteger(v) && v >= 1, "a positive integer");
    const alpha = numberParam(this.params, "alpha", (v) => v >= 0, ">= 0");
    const reg = numberParam(this.params, "reg", (v) => v > 0, "positive");
    const iterations = numberParam(this.params, "iterations", (v) => Number.isInteger(v) && v >= 1, "a positive integer");
    const threads = numberParam(this.params, "threads", (v) => Number.isInteger(v) && v >= 1, "a positive integer");
    const cpu = this.openScope(ctx, threads);
    const byUser = cpu.sparse(train);
    const byItem = cpu.sparse(csrTranspose(train));
    const rng = new Rng(ctx.seed);
    const x = cpu.zeros("f32", train.rows * d);
    const y = cpu.upload(Float32Array.from({ length: train.cols * d }, () => rng.normal() * 0.01));
    for (let it = 0; it < iterations; it++) {
      if (ctx.signal?.aborted) break;
      cpu.alsHalfSweep(byUser, y, x, d, alpha, reg);
      cpu.alsHalfSweep(byItem, x, y, d, alpha, reg);
    }
    this.factors = { users: cpu.read(x), items: cpu.read(y), dim: d };
    this.scorer = new FactorScorer(cpu, this.factors.users, this.factors.items, d);
  }

  embeddings(): { users: Float32Array; items: Float32Array; dim: number } {
    if (!this.factors) throw new Error("ials: embeddings() before fit()");
    return this.factors;
  }

  /** A new user's half-sweep: the same solve ALS makes for every user, with Y fixed. */
  foldIn(): LeastSquaresFoldIn {
    if (!this.factors) throw new Error("ials: foldIn() before fit()");
    const { items: y, dim: d } = this.factors;
    const items = y.length / d;
    const gram = new Float64Array(d * d);
    for (let i = 0; i < items; i++) {
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) gram[a * d + b] += y[i * d + a] * y[i * d + b];
    }
    const reg = Number(this.params.reg);
    for (let a = 0; a < d; a++) gram[a * d + a] += reg;
    return { kind: "least-squares", items, dim: d, factors: y, gram: Float32Array.from(gram), alpha: Number(this.params.alpha) };
  }
}

export const ials: ModelFactory = {
  name: "ials",
  description: "implicit ALS with confidence weighting (Hu, Koren, Volinsky 2008), 64 factors",
  defaults: { factors: 64, alpha: 4, reg: 10, iterations: 12, threads: defaultThreads() },
  grid: [
    { alpha: 1, reg: 10 },
    { alpha: 4, reg: 10 },
    { alpha: 16, reg: 10 },
    { alpha: 4, reg: 100 },
  ],
  create: (params) => new Ials(params),
};
