// Most-popular baseline: every user gets the items with the most train interactions.
//
// `batch` > 0 reproduces how RecBole's Pop counts instead (its published ml-1m figures come
// from it): it adds 1 to item_cnt[items_of_batch] per training batch, and PyTorch's indexed
// assignment writes a duplicated index once, so an item's count becomes the number of shuffled
// batches it appears in rather than its number of interactions. Kept only to explain the gap
// to the published Pop row; the default (0) is the plain interaction count.
import { type Csr, columnCounts } from "../protocol/csr.ts";
import { Rng } from "../util/rng.ts";
import type { FitContext, ModelFactory, Params, Recommender } from "./recommender.ts";

class Pop implements Recommender {
  readonly name = "pop";
  private popularity = new Float32Array(0);

  constructor(readonly params: Params) {}

  async fit(train: Csr, ctx: FitContext): Promise<void> {
    const batch = Number(this.params.batch ?? 0);
    if (!Number.isInteger(batch) || batch < 0) throw new Error(`pop: batch must be a non-negative integer, got ${this.params.batch}`);
    this.popularity = Float32Array.from(batch === 0 ? columnCounts(train) : batchPresenceCounts(train, batch, ctx.seed));
  }

  score(from: number, to: number, out: Float32Array): void {
    const n = this.popularity.length;
    for (let u = 0; u < to - from; u++) out.set(this.popularity, u * n);
  }
}

/** Number of shuffled batches of `batch` train interactions that contain each item. */
function batchPresenceCounts(train: Csr, batch: number, seed: number): Float64Array {
  const items = new Rng(seed).shuffle(train.indices.slice(0, train.indptr[train.rows]));
  const counts = new Float64Array(train.cols);
  const lastBatch = new Int32Array(train.cols).fill(-1);
  for (let i = 0; i < items.length; i++) {
    const b = Math.floor(i / batch);
    if (lastBatch[items[i]] !== b) {
      lastBatch[items[i]] = b;
      counts[items[i]]++;
    }
  }
  return counts;
}

export const pop: ModelFactory = {
  name: "pop",
  description: "most popular items in train",
  defaults: { batch: 0 },
  grid: [],
  create: (params) => new Pop(params),
};
