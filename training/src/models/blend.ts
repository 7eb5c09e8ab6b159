// A blend of EASE and LightGCN: each model's scores are standardized per user (mean 0, standard
// deviation 1 over all items), then mixed as w * EASE + (1 - w) * LightGCN. The two models
// rank differently (an item-item autoencoder and a graph embedding), and the mix ranks better
// than either on valid.
import { ease } from "./ease.ts";
import { lightgcn } from "./lightgcn.ts";
import { numberParam } from "./params.ts";
import type { FitContext, FitInfo, ModelFactory, Params, Recommender } from "./recommender.ts";
import type { Csr } from "../protocol/csr.ts";

/** Scales each row of `scores` ([rows x items]) to mean 0 and standard deviation 1. */
export function standardizeRows(scores: Float32Array, rows: number, items: number): void {
  for (let r = 0; r < rows; r++) {
    const row = scores.subarray(r * items, (r + 1) * items);
    let mean = 0;
    for (let i = 0; i < items; i++) mean += row[i];
    mean /= items;
    let sq = 0;
    for (let i = 0; i < items; i++) sq += (row[i] - mean) ** 2;
    const sd = Math.sqrt(sq / items) || 1;
    for (let i = 0; i < items; i++) row[i] = (row[i] - mean) / sd;
  }
}

class Blend implements Recommender {
  readonly name = "blend";
  private parts: { ease: Recommender; lightgcn: Recommender } | null = null;
  private items = 0;
  private buffer = new Float32Array(0);

  constructor(readonly params: Params) {}

  async fit(train: Csr, ctx: FitContext): Promise<void> {
    numberParam(this.params, "ease_weight", (v) => v >= 0 && v <= 1, "in [0, 1]");
    const easeModel = ease.create({ ...ease.defaults, lambda: this.params.ease_lambda });
    const graphModel = lightgcn.create({ ...lightgcn.defaults, threads: this.params.threads });
    ctx.log("blend: fitting EASE");
    await easeModel.fit(train, ctx);
    ctx.log("blend: training LightGCN (early stopping on its own valid NDCG@10)");
    await graphModel.fit(train, ctx);
    this.parts = { ease: easeModel, lightgcn: graphModel };
    this.items = train.cols;
  }

  score(from: number, to: number, out: Float32Array): void {
    if (!this.parts) throw new Error("blend: score() before fit()");
    const n = (to - from) * this.items;
    if (this.buffer.length < n) this.buffer = new Float32Array(n);
    const other = this.buffer.subarray(0, n);
    const w = Number(this.params.ease_weight);
    this.parts.ease.score(from, to, out);
    standardizeRows(out, to - from, this.items);
    this.parts.lightgcn.score(from, to, other);
    standardizeRows(other, to - from, this.items);
    for (let k = 0; k < n; k++) out[k] = w * out[k] + (1 - w) * other[k];
  }

  fitInfo(): FitInfo {
    if (!this.parts?.lightgcn.fitInfo) throw new Error("blend: fitInfo() before fit()");
    return this.parts.lightgcn.fitInfo();
  }
}

/**
 * ease_weight chosen on the ML-1M valid set (NDCG@10, LightGCN and EASE with their own
 * defaults): 0 (LightGCN alone) 0.2202, 0.2 0.2372, 0.3 0.2386, 0.4 0.2380, 0.5 0.2369, 0.6 0.2360,
 * 0.7 0.2347, 0.8 0.2334, 1 (EASE alone) 0.2316. ease_lambda 500 is EASE's own choice on valid.
 */
export const blend: ModelFactory = {
  name: "blend",
  description: "EASE and LightGCN, scores standardized per user and mixed (weight chosen on valid)",
  defaults: { ease_weight: 0.3, ease_lambda: 500, threads: lightgcn.defaults.threads },
  grid: [],
  create: (params) => new Blend(params),
};
