// LightGCN and BPR-MF (LightGCN with zero layers) on the shared graph engine.
import { LightGcnCore } from "./graph/lightgcn-core.ts";
import { type CoreBuildContext, EmbeddingModel, defaultThreads, initEmbeddings, numberParam, propagationPlan } from "./embedding-model.ts";
import type { ModelFactory, Params } from "./recommender.ts";

function buildLightGcn(c: CoreBuildContext): LightGcnCore {
  const { engine, ops, train, rng, params } = c;
  const layers = numberParam(params, "layers", (v) => Number.isInteger(v) && v >= 0, "a non-negative integer");
  const dim = numberParam(params, "dim", (v) => Number.isInteger(v) && v >= 1, "a positive integer");
  const reg = numberParam(params, "reg", (v) => v >= 0, ">= 0");
  const std = numberParam(params, "init_std", (v) => v > 0, "positive");
  const init = initEmbeddings(rng, train.rows, train.cols, dim, String(params.init), std);
  const adj = layers > 0 ? propagationPlan(c, dim) : null;
  return new LightGcnCore(ops, engine, adj, train.rows, train.cols, dim, layers, reg, init);
}

export const common: Params = {
  dim: 64,
  reg: 1e-4,
  init: "normal",
  init_std: 0.1,
  batch: 4096,
  lr: 2e-3,
  lr_decay: 1,
  epochs: 300,
  patience: 5,
  eval_every: 1,
  threads: defaultThreads(),
};

export const lightgcn: ModelFactory = {
  name: "lightgcn",
  description: "LightGCN (He et al. 2020): mean of L propagations of ego embeddings over the normalized train graph, BPR + Adam",
  defaults: { ...common, layers: 3 },
  grid: [],
  create: (params) => new EmbeddingModel("lightgcn", params, buildLightGcn),
};

export const mf: ModelFactory = {
  name: "mf",
  description: "BPR-MF: matrix factorization trained with BPR (LightGCN with zero layers)",
  defaults: { ...common, layers: 0 },
  grid: [],
  create: (params) => new EmbeddingModel("mf", params, buildLightGcn),
};
