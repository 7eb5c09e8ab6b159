// EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019):
// B = I - P diag(1 / diag(P)) with P = (X^T X + lambda I)^-1, i.e. B_ij = -P_ij / P_jj and a
// zero diagonal. The Gram matrix comes from TRAIN interactions only.
import type { Csr } from "../protocol/csr.ts";
import { type ItemItemFoldIn, roundToHalf } from "./foldin.ts";
import { ITEM_MATRIX_BUDGET_BYTES, ItemItemScorer, itemCap } from "./item-item.ts";
import type { FitContext, ModelFactory } from "./recommender.ts";
import { ScorerModel } from "./scorer-model.ts";

class Ease extends ScorerModel {
  readonly name = "ease";
  private itemScorer: ItemItemScorer | null = null;

  async fit(train: Csr, ctx: FitContext): Promise<void> {
    const lambda = Number(this.params.lambda);
    if (!(lambda > 0)) throw new Error(`ease: lambda must be positive, got ${this.params.lambda}`);
    const cpu = this.openScope(ctx);
    const scorer = ItemItemScorer.forTrain(cpu, train, itemCap(this.params.max_items));
    const cap = scorer.describeCap();
    if (cap) ctx.log(`ease: ${cap} (the dense item-item matrices must fit ${ITEM_MATRIX_BUDGET_BYTES / 2 ** 30} GiB of kernel memory); the others score -inf`);
    const n = scorer.items;
    const close = cpu.openScope();
    try {
      const gram = cpu.gramBinary(scorer.x);
      cpu.addToDiagonal(gram, n, lambda);
      cpu.invertSpd(gram, n);
      cpu.easeWeights(gram, scorer.weights, n);
    } finally {
      close();
    }
    this.scorer = scorer;
    this.itemScorer = scorer;
  }

  readonly serving = "history";

  /**
   * EASE scores a history as it scores a train row (the indicator row times B), B in half
   * precision. A capped catalogue has no fold-in (nor serving graph): B covers only part of it.
   */
  foldIn(): ItemItemFoldIn | null {
    if (!this.itemScorer) throw new Error("ease: foldIn() before fit()");
    if (this.itemScorer.kept) return null;
    return { kind: "item-item", items: this.itemScorer.items, weights: roundToHalf(this.itemScorer.weightsOnHost()) };
  }
}

export const ease: ModelFactory = {
  name: "ease",
  description: "EASE closed-form item-item autoencoder (Steck 2019)",
  defaults: { lambda: 1000, max_items: "memory" },
  grid: [{ lambda: 250 }, { lambda: 500 }, { lambda: 1000 }, { lambda: 2000 }, { lambda: 4000 }],
  create: (params) => new Ease(params),
};
