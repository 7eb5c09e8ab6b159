// "SVD" as in the Surprise library (Funk-style biased matrix factorization): the explicit 1-5
// ratings of the train interactions are fit by SGD, r_hat = mu + b_u + b_i + q_i . p_u, and
// items are ranked by predicted rating (the tutorial's "SVD" row).
import type { Csr } from "../protocol/csr.ts";
import { Rng } from "../util/rng.ts";
import { defaultThreads, numberParam } from "./params.ts";
import { FactorScorer } from "./factor-scorer.ts";
import type { FitContext, ModelFactory } from "./recommender.ts";
import { ScorerModel } from "./scorer-model.ts";

class Svd extends ScorerModel {
  readonly name = "svd";

  async fit(train: Csr, ctx: FitContext): Promise<void> {
    if (!train.values) throw new Error("svd: the train matrix carries no ratings");
    const d = numberParam(this.params, "n_factors", (v) => Number.isInteger(v) && v >= 1, "a positive integer");
    const epochs = numberParam(this.params, "n_epochs", (v) => Number.isInteger(v) && v >= 1, "a positive integer");
    const lr = numberParam(this.params, "lr_all", (v) => v > 0, "positive");
    const reg = numberParam(this.params, "reg_all", (v) => v >= 0, ">= 0");
    const std = numberParam(this.params, "init_std", (v) => v > 0, "positive");
    const threads = numberParam(this.params, "threads", (v) => Number.isInteger(v) && v >= 1, "a positive integer");
    const cpu = this.openScope(ctx, threads);
    const rng = new Rng(ctx.seed);
    const n = train.indptr[train.rows];
    const users = new Int32Array(n);
    for (let u = 0; u < train.rows; u++) users.fill(u, train.indptr[u], train.indptr[u + 1]);
    let mu = 0;
    for (let k = 0; k < n; k++) mu += train.values[k];
    mu /= n;
    const order = Int32Array.from({ length: n }, (_, k) => k);
    const t = { users: cpu.upload(users), items: cpu.upload(train.indices), values: cpu.upload(train.values), order: cpu.upload(order) };
    const f = {
      p: cpu.upload(Float32Array.from({ length: train.rows * d }, () => rng.normal() * std)),
      q: cpu.upload(Float32Array.from({ length: train.cols * d }, () => rng.normal() * std)),
      bu: cpu.zeros("f32", train.rows),
      bi: cpu.zeros("f32", train.cols),
    };
    for (let epoch = 0; epoch < epochs; epoch++) {
      if (ctx.signal?.aborted) break;
      rng.shuffle(order);
      cpu.write(t.order, order);
      cpu.sgdEpoch(t, f, d, mu, lr, reg);
    }
    // rank by b_u + b_i + q_i . p_u (mu is the same for every item): augmented factor rows
    const w = d + 2;
    const pu = new Float32Array(train.rows * w);
    const qi = new Float32Array(train.cols * w);
    const [p, q, bu, bi] = [f.p, f.q, f.bu, f.bi].map((x) => cpu.read(x));
    for (let u = 0; u < train.rows; u++) {
      pu.set(p.subarray(u * d, u * d + d), u * w);
      pu[u * w + d] = bu[u];
      pu[u * w + d + 1] = 1;
    }
    for (let i = 0; i < train.cols; i++) {
      qi.set(q.subarray(i * d, i * d + d), i * w);
      qi[i * w + d] = 1;
      qi[i * w + d + 1] = bi[i];
    }
    this.scorer = new FactorScorer(cpu, pu, qi, w);
  }
}

export const svd: ModelFactory = {
  name: "svd",
  description: "Surprise-style SVD: biased MF fit to the explicit ratings by SGD, items ranked by predicted rating",
  // Surprise's parameter names and defaults: 100 factors, 20 epochs, lr 0.005, reg 0.02, init N(0, 0.1)
  defaults: { n_factors: 100, n_epochs: 20, lr_all: 0.005, reg_all: 0.02, init_std: 0.1, threads: defaultThreads() },
  grid: [{ n_epochs: 10 }, { n_epochs: 20 }, { n_epochs: 40 }],
  create: (params) => new Svd(params),
};
