import { describe, expect, it } from "vitest";
import { DATASETS } from "../src/data/datasets.ts";
import { type Dataset, loadDataset } from "../src/data/parse.ts";
import { type Csr, rowOf } from "../src/protocol/csr.ts";
import { PROTOCOLS, buildSplit, evaluationMask, positiveInteractions } from "../src/protocol/protocols.ts";
import { Rng } from "../src/util/rng.ts";
import { realDatasetDir } from "./real-data.ts";

function syntheticDataset(users: number, items: number, perUser: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const u: number[] = [],
    it: number[] = [],
    r: number[] = [];
  for (let a = 1; a <= users; a++) {
    const chosen = new Set<number>();
    while (chosen.size < perUser) chosen.add(1 + rng.int(items));
    for (const b of chosen) {
      u.push(a);
      it.push(b);
      r.push(1 + rng.int(5));
    }
  }
  return {
    name: "ml-100k",
    ratings: { length: u.length, user: Int32Array.from(u), item: Int32Array.from(it), rating: Float32Array.from(r), timestamp: new Int32Array(u.length) },
    movies: [],
    users: [],
  };
}

function entries(m: Csr): Set<string> {
  const s = new Set<string>();
  for (let r = 0; r < m.rows; r++) for (const c of rowOf(m, r)) s.add(`${r},${c}`);
  return s;
}

describe("positive interactions and k-core filtering", () => {
  it("keeps ratings >= 3 and removes users and items below 10 repeatedly", () => {
    // user 1 rates items 1..10 (kept); user 2 rates items 1..9 and 11 (item 11 has one rating:
    // removed, which drops user 2 to 9 interactions and removes it in the next round)
    const u: number[] = [],
      it: number[] = [],
      r: number[] = [];
    const add = (a: number, b: number, rating: number): void => {
      u.push(a);
      it.push(b);
      r.push(rating);
    };
    for (let k = 0; k < 10; k++) {
      for (let b = 1; b <= 10; b++) add(100 + k, b, 4); // ten heavy users keep items 1..10 alive
    }
    for (let b = 1; b <= 9; b++) add(2, b, 5);
    add(2, 11, 5);
    add(3, 1, 2); // rating below the threshold
    const ds: Dataset = {
      name: "ml-100k",
      ratings: { length: u.length, user: Int32Array.from(u), item: Int32Array.from(it), rating: Float32Array.from(r), timestamp: new Int32Array(u.length) },
      movies: [],
      users: [],
    };
    const pos = positiveInteractions(ds, PROTOCOLS.recbole);
    expect(new Set(pos.user)).toEqual(new Set([100, 101, 102, 103, 104, 105, 106, 107, 108, 109]));
    expect(pos.user.length).toBe(100);
  });
});

describe("per-user split (recbole)", () => {
  const ds = syntheticDataset(60, 40, 23, 1);
  const split = buildSplit(ds, PROTOCOLS.recbole, 7);

  it("gives each user floor(0.1 n) valid and test interactions and the rest to train", () => {
    for (let u = 0; u < split.counts.users; u++) {
      const n = rowOf(split.train, u).length + rowOf(split.valid!, u).length + rowOf(split.test, u).length;
      expect(rowOf(split.valid!, u).length).toBe(Math.floor(n / 10));
      expect(rowOf(split.test, u).length).toBe(Math.floor(n / 10));
    }
  });

  it("partitions the interactions: train, valid and test are disjoint and cover everything", () => {
    const tr = entries(split.train),
      va = entries(split.valid!),
      te = entries(split.test);
    for (const e of va) expect(tr.has(e)).toBe(false);
    for (const e of te) expect(tr.has(e) || va.has(e)).toBe(false);
    expect(tr.size + va.size + te.size).toBe(split.counts.interactions);
    expect(entries(evaluationMask(split, "test"))).toEqual(new Set([...tr, ...va]));
  });

  it("is reproducible for a seed and changes with the seed", () => {
    const again = buildSplit(ds, PROTOCOLS.recbole, 7);
    const other = buildSplit(ds, PROTOCOLS.recbole, 8);
    expect(Array.from(again.test.indices)).toEqual(Array.from(split.test.indices));
    expect(Array.from(other.test.indices)).not.toEqual(Array.from(split.test.indices));
  });

  it("keeps the explicit ratings of the train interactions", () => {
    expect(split.train.values?.length).toBe(split.counts.train);
    expect(split.train.values!.every((v) => v >= 3 && v <= 5)).toBe(true);
  });
});

describe("global split (tutorial)", () => {
  it("holds out 20% of all rating >= 4 interactions with no valid set", () => {
    const ds = syntheticDataset(30, 50, 20, 3);
    const split = buildSplit(ds, PROTOCOLS.tutorial, 1);
    const positives = Array.from(ds.ratings.rating).filter((r) => r >= 4).length;
    expect(split.valid).toBeNull();
    expect(split.counts.interactions).toBe(positives);
    expect(split.counts.test).toBe(Math.floor(positives * 0.2));
    expect(split.counts.train + split.counts.test).toBe(positives);
  });
});

const ml1m = realDatasetDir("ml-1m");
describe.skipIf(!ml1m)("the RecBole protocol on the real ML-1M", () => {
  it("yields 834,449 interactions, 6,033 users and 3,123 items", async () => {
    const split = buildSplit(await loadDataset(DATASETS["ml-1m"], ml1m!), PROTOCOLS.recbole);
    expect(split.counts.interactions).toBe(834_449);
    expect(split.counts.users).toBe(6_033);
    expect(split.counts.items).toBe(3_123);
    expect(split.counts.valid).toBe(split.counts.test);
    expect(split.counts.train + split.counts.valid + split.counts.test).toBe(834_449);
  });
});
