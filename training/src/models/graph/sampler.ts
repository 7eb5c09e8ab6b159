// BPR training triples: every train interaction once per epoch in shuffled order, each with one
// negative item drawn uniformly among the items the user has no train interaction with. The
// (user, item) pairs themselves are shuffled, in lockstep, so a batch reads them in order: at
// tens of millions of interactions, reading them through a shuffled index missed the cache twice
// per triple.
import type { Csr } from "../../protocol/csr.ts";
import type { Rng } from "../../util/rng.ts";

export class BprSampler {
  /** The epoch's interactions in order: user and item of each. */
  private readonly users: Int32Array;
  private readonly items: Int32Array;
  private readonly seen: Uint32Array;
  private readonly words: number;

  constructor(
    private readonly train: Csr,
    private readonly rng: Rng,
  ) {
    const nnz = train.indptr[train.rows];
    this.users = new Int32Array(nnz);
    this.items = train.indices.slice(0, nnz);
    this.words = Math.ceil(train.cols / 32);
    this.seen = new Uint32Array(train.rows * this.words);
    for (let u = 0; u < train.rows; u++) {
      for (let p = train.indptr[u]; p < train.indptr[u + 1]; p++) {
        this.users[p] = u;
        const i = train.indices[p];
        this.seen[u * this.words + (i >>> 5)] |= 1 << (i & 31);
      }
      if (train.indptr[u + 1] - train.indptr[u] >= train.cols && train.indptr[u + 1] > train.indptr[u]) {
        throw new Error(`user ${u} interacted with every item: no negative can be sampled`);
      }
    }
  }

  get size(): number {
    return this.users.length;
  }

  /** Starts an epoch: a fresh shuffle of the train interactions (Fisher-Yates, pairs in lockstep). */
  shuffle(): void {
    const { users, items, rng } = this;
    for (let i = users.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const u = users[i];
      users[i] = users[j];
      users[j] = u;
      const it = items[i];
      items[i] = items[j];
      items[j] = it;
    }
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
      const u = this.users[start + t];
      let j: number;
      do j = rng.int(nItems);
      while (seen[u * words + (j >>> 5)] & (1 << (j & 31)));
      users[t] = u;
      pos[t] = nUsers + this.items[start + t];
      neg[t] = nUsers + j;
    }
  }
}
