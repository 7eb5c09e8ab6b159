// Item-based k-nearest neighbours: cosine similarity between the items' train columns,
// S_ij = |U_i & U_j| / (sqrt(|U_i| |U_j|) + shrink); for every target item j only its k most
// similar items i keep their weight; score(u, j) = sum over the user's items i of S_ij.
import type { Csr } from "../protocol/csr.ts";
import { ITEM_MATRIX_BUDGET_BYTES, ItemItemScorer, itemCap } from "./item-item.ts";
import type { FitContext, ModelFactory } from "./recommender.ts";
import { ScorerModel } from "./scorer-model.ts";

class ItemKnn extends ScorerModel {
  readonly name = "itemknn";

  async fit(train: Csr, ctx: FitContext): Promise<void> {
    const k = Number(this.params.k);
    const shrink = Number(this.params.shrink);
    if (!Number.isInteger(k) || k < 1) throw new Error(`itemknn: k must be a positive integer, got ${this.params.k}`);
    if (!(shrink >= 0)) throw new Error(`itemknn: shrink must be >= 0, got ${this.params.shrink}`);
    const cpu = this.openScope(ctx);
    const scorer = ItemItemScorer.forTrain(cpu, train, itemCap(this.params.max_items));
    const cap = scorer.describeCap();
    if (cap)
      ctx.log(`itemknn: ${cap} (the dense item-item matrices must fit ${ITEM_MATRIX_BUDGET_BYTES / 2 ** 30} GiB of kernel memory); the others score -inf`);
    const n = scorer.items;
    const close = cpu.openScope();
    try {
      cpu.itemKnnWeights(cpu.gramBinary(scorer.x), scorer.weights, n, k, shrink);
    } finally {
      close();
    }
    this.scorer = scorer;
  }
}

export const itemknn: ModelFactory = {
  name: "itemknn",
  description: "item-item cosine k-nearest neighbours",
  defaults: { k: 100, shrink: 0, max_items: "memory" },
  grid: [{ k: 50 }, { k: 100 }, { k: 200 }, { k: 400 }],
  create: (params) => new ItemKnn(params),
};
