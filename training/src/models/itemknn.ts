// Item-based k-nearest neighbours: cosine similarity between the items' train columns,
// S_ij = |U_i & U_j| / (sqrt(|U_i| |U_j|) + shrink); for every target item j only its k most
// similar items i keep their weight; score(u, j) = sum over the user's items i of S_ij.
import type { Csr } from "../protocol/csr.ts";
import { topK } from "../util/topk.ts";
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
    const e = this.openScope(ctx);
    const scorer = ItemItemScorer.forTrain(e, train, itemCap(this.params.max_items));
    const cap = scorer.describeCap();
    if (cap)
      ctx.log(`itemknn: ${cap} (the dense item-item matrices must fit ${ITEM_MATRIX_BUDGET_BYTES / 2 ** 30} GiB of kernel memory); the others score -inf`);
    const n = scorer.items;
    e.scoped(() => {
      const gram = e.gramBinary(scorer.x).view();
      const norm = Float64Array.from({ length: n }, (_, i) => Math.sqrt(gram[i * n + i]));
      const sim = new Float64Array(n);
      const neighbours = new Int32Array(k);
      const w = scorer.weights.view();
      for (let j = 0; j < n; j++) {
        // the Gram matrix is symmetric: column j is row j
        for (let i = 0; i < n; i++) {
          const co = gram[j * n + i];
          sim[i] = i === j || co === 0 ? Number.NEGATIVE_INFINITY : co / (norm[i] * norm[j] + shrink);
        }
        const found = topK(sim, 0, n, k, neighbours);
        for (let r = 0; r < found; r++) w[neighbours[r] * n + j] = sim[neighbours[r]];
      }
    });
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
