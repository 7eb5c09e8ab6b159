// Full-ranking top-K metrics with binary relevance, averaged over users that have held-out
// items. Recall divides by the user's number of held-out items (never by min(K, n));
// NDCG's ideal DCG places min(K, n) relevant items first.

import { CAPPED_RECALL, METRIC_NAMES, type MetricKey, type MetricName, type MetricValues } from "../contract/artifacts.ts";

export { CAPPED_RECALL, METRIC_NAMES, type MetricKey, type MetricName, type MetricValues };

const discount = (rank: number): number => 1 / Math.log2(rank + 2);

/** Accumulates per-user metrics for several cut-offs at once. */
export class MetricAccumulator {
  private readonly sums: Map<MetricKey, number> = new Map();
  private users = 0;
  private readonly maxK: number;

  private readonly names: MetricName[];

  constructor(
    readonly ks: readonly number[],
    opts: { cappedRecall?: boolean } = {},
  ) {
    if (ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 1)) throw new Error(`cut-offs must be positive integers, got ${ks.join(",")}`);
    this.maxK = Math.max(...ks);
    this.names = opts.cappedRecall ? [...METRIC_NAMES, CAPPED_RECALL] : [...METRIC_NAMES];
    for (const k of ks) for (const m of this.names) this.sums.set(`${m}@${k}`, 0);
  }

  /**
   * Adds one user: `ranked` holds the user's top items (best first, at least min(maxK,
   * selectable) of them), `relevant(item)` says whether an item is held out for the user and
   * `nRelevant` how many are. Users with no held-out items are skipped.
   */
  add(ranked: ArrayLike<number>, count: number, relevant: (item: number) => boolean, nRelevant: number): void {
    if (nRelevant === 0) return;
    this.users++;
    const depth = Math.min(count, this.maxK);
    const hitAt = new Uint8Array(depth);
    for (let r = 0; r < depth; r++) hitAt[r] = relevant(ranked[r]) ? 1 : 0;
    for (const k of this.ks) {
      let hits = 0;
      let dcg = 0;
      let firstHit = -1;
      for (let r = 0; r < Math.min(k, depth); r++) {
        if (!hitAt[r]) continue;
        hits++;
        dcg += discount(r);
        if (firstHit < 0) firstHit = r;
      }
      let idcg = 0;
      for (let r = 0; r < Math.min(k, nRelevant); r++) idcg += discount(r);
      this.inc(`recall@${k}`, hits / nRelevant);
      this.inc(`ndcg@${k}`, dcg / idcg);
      this.inc(`precision@${k}`, hits / k);
      this.inc(`hit@${k}`, hits > 0 ? 1 : 0);
      this.inc(`mrr@${k}`, firstHit >= 0 ? 1 / (firstHit + 1) : 0);
      if (this.sums.has(`${CAPPED_RECALL}@${k}`)) this.inc(`${CAPPED_RECALL}@${k}`, hits / Math.min(k, nRelevant));
    }
  }

  private inc(key: MetricKey, v: number): void {
    this.sums.set(key, this.sums.get(key)! + v);
  }

  get userCount(): number {
    return this.users;
  }

  /** Means over the users added, keyed like "ndcg@10", in a stable order. */
  result(): MetricValues {
    const out = {} as MetricValues;
    for (const k of this.ks) for (const m of this.names) out[`${m}@${k}`] = this.users === 0 ? 0 : this.sums.get(`${m}@${k}`)! / this.users;
    return out;
  }
}
