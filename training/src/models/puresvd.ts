// PureSVD (Cremonesi, Koren, Turrin 2010): the rank-f truncated SVD of the binary train matrix
// R = U S V^T; a user's scores are r_u V V^T. V spans the top-f eigenvectors of R^T R, found by
// block power (subspace) iteration on the Gram matrix with the GEMM kernel; the scores only
// depend on that subspace.
import type { Csr } from "../protocol/csr.ts";
import { Rng } from "../util/rng.ts";
import { defaultThreads, numberParam } from "./params.ts";
import { FactorScorer } from "./factor-scorer.ts";
import type { FitContext, ModelFactory } from "./recommender.ts";
import { ScorerModel } from "./scorer-model.ts";

/** Modified Gram-Schmidt on the rows of a [f x n] row-major matrix. */
function orthonormalizeRows(v: Float64Array, f: number, n: number): void {
  for (let a = 0; a < f; a++) {
    const ra = a * n;
    for (let b = 0; b < a; b++) {
      const rb = b * n;
      let dot = 0;
      for (let i = 0; i < n; i++) dot += v[ra + i] * v[rb + i];
      for (let i = 0; i < n; i++) v[ra + i] -= dot * v[rb + i];
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += v[ra + i] * v[ra + i];
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let i = 0; i < n; i++) v[ra + i] *= inv;
  }
}

class PureSvd extends ScorerModel {
  readonly name = "puresvd";

  async fit(train: Csr, ctx: FitContext): Promise<void> {
    const f = numberParam(this.params, "rank", (v) => Number.isInteger(v) && v >= 1 && v <= train.cols, `an integer in 1..${train.cols}`);
    const iterations = numberParam(this.params, "iterations", (v) => Number.isInteger(v) && v >= 1, "a positive integer");
    const threads = numberParam(this.params, "threads", (v) => Number.isInteger(v) && v >= 1, "a positive integer");
    const cpu = this.openScope(ctx, threads);
    const n = train.cols;
    const rng = new Rng(ctx.seed);
    const x = cpu.sparse(train);
    const close = cpu.openScope();
    let users: Float32Array;
    let items: Float32Array;
    try {
      const gram = cpu.gramBinary(x);
      const start = Float64Array.from({ length: f * n }, () => rng.normal());
      orthonormalizeRows(start, f, n);
      const vt = cpu.upload(start);
      const next = cpu.zeros("f64", f * n);
      for (let it = 0; it < iterations; it++) {
        // V^T <- orth((G V)^T) = orth(V^T G), G symmetric
        cpu.gemm(f, n, n, vt, gram, next);
        const rows = cpu.read(next);
        orthonormalizeRows(rows, f, n);
        cpu.write(vt, rows);
      }
      const v = cpu.read(vt);
      items = new Float32Array(n * f);
      for (let c = 0; c < f; c++) for (let i = 0; i < n; i++) items[i * f + c] = v[c * n + i];
      // user factors r_u V: the sparse train rows times V
      const p = cpu.zeros("f32", train.rows * f);
      cpu.spmm(x, 0, train.rows, cpu.upload(items), f, p);
      users = cpu.read(p);
    } finally {
      close();
    }
    this.scorer = new FactorScorer(cpu, users, items, f);
  }
}

export const puresvd: ModelFactory = {
  name: "puresvd",
  description: "PureSVD: truncated SVD of the binary train matrix (subspace iteration on R^T R)",
  defaults: { rank: 64, iterations: 12, threads: defaultThreads() },
  grid: [{ rank: 16 }, { rank: 32 }, { rank: 64 }, { rank: 128 }, { rank: 256 }],
  create: (params) => new PureSvd(params),
};
