// BPR training triples: every train interaction once per epoch in shuffled order, each with one
// negative item drawn uniformly among the items the user has no train interaction with.
import type { Csr } from "../../protocol/csr.ts";
import type { Rng } from "../../util/rng.ts";

export class BprSampler {
  private readonly owner: Int32Array;
  private readonly seen: Uint32Array;
  private readonly words: number;
  private order: Int32Array;

  constructor(
    private readonly train: Csr,
    private readonly rng: Rng,
  ) {
    const nnz = train.indptr[train.rows];
    this.owner = new Int32Array(nnz);
    this.words = Math.ceil(train.cols / 32);
    this.seen = new Uint32Array(train.rows * this.words);
    for (let u = 0; u < train.rows; u++) {
      for (let p = train.indptr[u]; p < train.indptr[u + 1]; p++) {
        this.owner[p] = u;
        const i = train.indices[p];
        this.seen[u * this.words + (i >>> 5)] |= 1 << (i & 31);
      }
      if (train.indptr[u + 1] - train.indptr[u] >= train.cols && train.indptr[u + 1] > train.indptr[u]) {
        throw new Error(`user ${u} interacted with every item: no negative can be sampled`);
      }
    }
    this.order = Int32Array.from({ length: nnz }, (_, i) => i);
  }

  get size(): number {
    return this.order.length;
  }

  /** Starts an epoch: a fresh shuffle of the train interactions. */
  shuffle(): void {
    this.rng.shuffle(this.order);
  }

  /**
   * Writes triples for epoch positions start..start+count into the arrays (node ids: items are
   * offset by the number of users).
   */
  fill(start: number, count: number, users: Int32Array, pos: Int32Array, neg: Int32Array): void {
    const { train, rng, words, seen } = this;
    const nUsers = train.rows;
    const nItems = train.cols;
    for (let t = 0; t < count; t++) {
      const p = this.order[start + t];
      const u = this.owner[p];
      let j: number;
      do j = rng.int(nItems);
      while (seen[u * words + (j >>> 5)] & (1 << (j & 31)));
      users[t] = u;
      pos[t] = nUsers + train.indices[p];
      neg[t] = nUsers + j;
    }
  }
}
