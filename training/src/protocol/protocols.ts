// Evaluation protocols: which ratings count as positive interactions, which users and items
// are kept, and how interactions are split into train / valid / test.
//
// "recbole" is the headline: RecBole's ml-1m general-recommendation benchmark (ratings >= 3,
// iterative 10-core filtering of users and items, a random 80/10/10 split per user).
// "tutorial" is the protocol of the widely shared tutorial (ratings >= 4, no filtering, one
// global random 80/20 split, no valid set), kept only to compare with its table.
import type { Dataset } from "../data/parse.ts";
import { type Csr, csrFromTriples, csrUnion, nnz, rowOf } from "./csr.ts";
import { Rng } from "../util/rng.ts";

export type ProtocolName = "recbole" | "tutorial";
export const PROTOCOL_NAMES: readonly ProtocolName[] = ["recbole", "tutorial"];
export const DEFAULT_SEED = 2020;

export interface ProtocolSpec {
  name: ProtocolName;
  description: string;
  minRating: number;
  /** Users and items with fewer interactions are removed, repeatedly, until none is left. */
  minUserInteractions: number;
  minItemInteractions: number;
  split: { kind: "per-user"; valid: number; test: number } | { kind: "global"; test: number };
}

export const PROTOCOLS: Record<ProtocolName, ProtocolSpec> = {
  recbole: {
    name: "recbole",
    description: "RecBole ml-1m benchmark: rating >= 3, 10-core users and items, random 80/10/10 split per user, full ranking",
    minRating: 3,
    minUserInteractions: 10,
    minItemInteractions: 10,
    split: { kind: "per-user", valid: 0.1, test: 0.1 },
  },
  tutorial: {
    name: "tutorial",
    description: "the tutorial's protocol: rating >= 4, no filtering, one global random 80/20 split, no valid set",
    minRating: 4,
    minUserInteractions: 0,
    minItemInteractions: 0,
    split: { kind: "global", test: 0.2 },
  },
};

export function protocolSpec(name: string): ProtocolSpec {
  if (!(PROTOCOL_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown protocol "${name}": choose one of ${PROTOCOL_NAMES.join(", ")}`);
  }
  return PROTOCOLS[name as ProtocolName];
}

export interface Split {
  dataset: Dataset["name"];
  protocol: ProtocolName;
  seed: number;
  /** internal user index -> MovieLens UserID (ascending). */
  userIds: Int32Array;
  /** internal item index -> MovieLens MovieID (ascending). */
  itemIds: Int32Array;
  /** Train interactions with their explicit ratings as values. */
  train: Csr;
  valid: Csr | null;
  test: Csr;
  counts: { users: number; items: number; interactions: number; train: number; valid: number; test: number };
}

/** Positive interactions after the rating threshold and iterative k-core filtering. */
export interface Interactions {
  user: Int32Array;
  item: Int32Array;
  rating: Float32Array;
}

export function positiveInteractions(dataset: Dataset, spec: ProtocolSpec): Interactions {
  const r = dataset.ratings;
  // implicit data (no ratings) is all positives
  let keep: Int32Array = new Int32Array(r.length);
  let n = 0;
  for (let i = 0; i < r.length; i++) if (dataset.implicit || r.rating[i] >= spec.minRating) keep[n++] = i;
  keep = keep.slice(0, n);
  if (spec.minUserInteractions > 0 || spec.minItemInteractions > 0) {
    keep = kCore(keep, r.user, r.item, spec.minUserInteractions, spec.minItemInteractions);
  }
  return {
    user: keep.map((i) => r.user[i]),
    item: keep.map((i) => r.item[i]),
    rating: Float32Array.from(keep, (i) => r.rating[i]),
  };
}

function maxOf(a: Int32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (a[i] > m) m = a[i];
  return m;
}

/** Iterative k-core: drop users and items below their minimum until none is (counts by id). */
function kCore(rows: Int32Array, user: Int32Array, item: Int32Array, minUser: number, minItem: number): Int32Array {
  const uc = new Int32Array(maxOf(user) + 1);
  const ic = new Int32Array(maxOf(item) + 1);
  let current = rows;
  for (;;) {
    uc.fill(0);
    ic.fill(0);
    for (let k = 0; k < current.length; k++) {
      uc[user[current[k]]]++;
      ic[item[current[k]]]++;
    }
    const next = new Int32Array(current.length);
    let n = 0;
    for (let k = 0; k < current.length; k++) {
      const i = current[k];
      if (uc[user[i]] >= minUser && ic[item[i]] >= minItem) next[n++] = i;
    }
    if (n === current.length) return current;
    current = next.slice(0, n);
  }
}

/** 0, 1, ..., n - 1. */
function positions(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

/** The distinct ids, ascending. */
function sortedIds(values: Int32Array): Int32Array {
  const seen = new Uint8Array(maxOf(values) + 1);
  for (let i = 0; i < values.length; i++) seen[values[i]] = 1;
  const ids: number[] = [];
  for (let id = 0; id < seen.length; id++) if (seen[id]) ids.push(id);
  return Int32Array.from(ids);
}

/** id -> index into `ids`, as a dense table over 0..max id. */
function indexOf(ids: Int32Array): Int32Array {
  const index = new Int32Array((ids.length ? ids[ids.length - 1] : 0) + 1).fill(-1);
  ids.forEach((id, i) => {
    index[id] = i;
  });
  return index;
}

/** Applies a protocol to a dataset: filter, index, split (seeded). */
export function buildSplit(dataset: Dataset, spec: ProtocolSpec, seed = DEFAULT_SEED): Split {
  const pos = positiveInteractions(dataset, spec);
  const n = pos.user.length;
  if (n === 0) throw new Error(`protocol ${spec.name} leaves no interactions in ${dataset.name}`);
  const userIds = sortedIds(pos.user);
  const itemIds = sortedIds(pos.item);
  const uIndex = indexOf(userIds);
  const iIndex = indexOf(itemIds);
  const u = pos.user.map((id) => uIndex[id]);
  const it = pos.item.map((id) => iIndex[id]);
  const part = new Uint8Array(n); // 0 train, 1 valid, 2 test
  const rng = new Rng(seed);

  if (spec.split.kind === "per-user") {
    // Each user's interactions in file order, shuffled, then cut into train | valid | test
    // with valid = test = floor(0.1 n) (RecBole's split_by_ratio for 10-core users).
    const byUser = csrFromTriples(userIds.length, 1, u, positions(n));
    // csrFromTriples sorted rows by column, i.e. by original position: file order.
    for (let r = 0; r < byUser.rows; r++) {
      const s = byUser.indptr[r];
      const e = byUser.indptr[r + 1];
      const rows = byUser.indices.slice(s, e);
      rng.shuffle(rows);
      const cnt = e - s;
      const nValid = Math.floor(cnt * spec.split.valid + 1e-9);
      const nTest = Math.floor(cnt * spec.split.test + 1e-9);
      const nTrain = cnt - nValid - nTest;
      for (let k = nTrain; k < nTrain + nValid; k++) part[rows[k]] = 1;
      for (let k = nTrain + nValid; k < cnt; k++) part[rows[k]] = 2;
    }
  } else {
    const order = rng.shuffle(positions(n));
    const nTest = Math.floor(n * spec.split.test + 1e-9);
    for (let k = n - nTest; k < n; k++) part[order[k]] = 2;
  }

  const pick = (p: number): Csr => {
    let count = 0;
    for (let i = 0; i < n; i++) if (part[i] === p) count++;
    const rows = new Int32Array(count);
    const cols = new Int32Array(count);
    const vals = new Float32Array(count);
    for (let i = 0, k = 0; i < n; i++) {
      if (part[i] !== p) continue;
      rows[k] = u[i];
      cols[k] = it[i];
      vals[k++] = pos.rating[i];
    }
    return p === 0 ? csrFromTriples(userIds.length, itemIds.length, rows, cols, vals) : csrFromTriples(userIds.length, itemIds.length, rows, cols);
  };
  const train = pick(0);
  const valid = spec.split.kind === "per-user" ? pick(1) : null;
  const test = pick(2);
  return {
    dataset: dataset.name,
    protocol: spec.name,
    seed,
    userIds,
    itemIds,
    train,
    valid,
    test,
    counts: {
      users: userIds.length,
      items: itemIds.length,
      interactions: n,
      train: nnz(train),
      valid: valid ? nnz(valid) : 0,
      test: nnz(test),
    },
  };
}

/** What must be hidden from the ranking when evaluating on `which`. */
export function evaluationMask(split: Split, which: "valid" | "test"): Csr {
  if (which === "valid" || !split.valid) return split.train;
  return csrUnion(split.train, split.valid);
}

export function heldOut(split: Split, which: "valid" | "test"): Csr {
  if (which === "valid") {
    if (!split.valid) throw new Error(`protocol ${split.protocol} has no valid set`);
    return split.valid;
  }
  return split.test;
}

/** Users held out of training entirely (strong generalization, Liang et al. 2018). */
export interface HeldOutUsers {
  /** Internal indices of the held-out users. */
  users: Int32Array;
  /** Per held-out user: the positives folded in (the rest of the matrix is empty). */
  foldIn: Csr;
  /** Per held-out user: the positives to rank (disjoint from foldIn). */
  target: Csr;
}

/**
 * Removes a seeded `fraction` of users from every training structure: their train, valid and
 * test rows become empty in the returned split. Each held-out user's positives are shuffled
 * and cut into `foldInShare` to fold in and the rest to rank (at least one on each side).
 */
export function holdOutUsers(split: Split, fraction: number, seed: number, foldInShare = 0.8): { split: Split; heldOut: HeldOutUsers } {
  if (!(fraction > 0 && fraction < 1)) throw new Error(`the held-out user fraction must be in (0, 1), got ${fraction}`);
  if (!(foldInShare > 0 && foldInShare < 1)) throw new Error(`the fold-in share must be in (0, 1), got ${foldInShare}`);
  const users = split.counts.users;
  const rng = new Rng(seed ^ 0x2c1b3c6d);
  const order = rng.shuffle(Int32Array.from({ length: users }, (_, i) => i));
  const held = order.slice(0, Math.max(1, Math.round(users * fraction))).sort();
  const isHeld = new Uint8Array(users);
  for (const u of held) isHeld[u] = 1;
  const parts = [split.train, split.valid, split.test].filter((m): m is Csr => m !== null);
  const fr: number[] = [],
    fc: number[] = [],
    tr: number[] = [],
    tc: number[] = [];
  for (const u of held) {
    const all = Int32Array.from(parts.flatMap((m) => Array.from(rowOf(m, u))));
    rng.shuffle(all);
    const nFold = Math.min(all.length - 1, Math.max(1, Math.round(all.length * foldInShare)));
    all.forEach((i, k) => {
      if (k < nFold) {
        fr.push(u);
        fc.push(i);
      } else {
        tr.push(u);
        tc.push(i);
      }
    });
  }
  const without = (m: Csr): Csr => {
    const rows: number[] = [],
      cols: number[] = [],
      vals: number[] = [];
    for (let u = 0; u < m.rows; u++) {
      if (isHeld[u]) continue;
      for (let p = m.indptr[u]; p < m.indptr[u + 1]; p++) {
        rows.push(u);
        cols.push(m.indices[p]);
        if (m.values) vals.push(m.values[p]);
      }
    }
    return csrFromTriples(m.rows, m.cols, rows, cols, m.values ? vals : undefined);
  };
  const train = without(split.train);
  const valid = split.valid ? without(split.valid) : null;
  const test = without(split.test);
  return {
    split: {
      ...split,
      train,
      valid,
      test,
      counts: {
        ...split.counts,
        interactions: nnz(train) + (valid ? nnz(valid) : 0) + nnz(test),
        train: nnz(train),
        valid: valid ? nnz(valid) : 0,
        test: nnz(test),
      },
    },
    heldOut: {
      users: held,
      foldIn: csrFromTriples(users, split.counts.items, fr, fc),
      target: csrFromTriples(users, split.counts.items, tr, tc),
    },
  };
}
