// What changes at 30x the size: item-item models keep the most popular items their dense
// matrices can hold (and say so), and validation during training uses a fixed sample of users.
import { describe, expect, it } from "vitest";
import { evaluateMatrices, userSample } from "../src/eval/evaluate.ts";
import { ease } from "../src/models/ease.ts";
import { itemknn } from "../src/models/itemknn.ts";
import { itemCap } from "../src/models/item-item.ts";
import { type Csr, csrFromTriples, rowOf } from "../src/protocol/csr.ts";
import { randomTrain } from "./graph-helpers.ts";

/** The train matrix over `kept` items only, renumbered. */
function restrict(train: Csr, kept: number[]): Csr {
  const r: number[] = [];
  const c: number[] = [];
  for (let u = 0; u < train.rows; u++) {
    for (const i of rowOf(train, u)) {
      if (kept.includes(i)) {
        r.push(u);
        c.push(kept.indexOf(i));
      }
    }
  }
  return csrFromTriples(train.rows, kept.length, r, c);
}

function popularity(train: Csr): number[] {
  const counts = new Array(train.cols).fill(0);
  for (const i of train.indices) counts[i]++;
  return counts;
}

describe("item-item models over a catalogue larger than their matrices can hold", () => {
  it('holds 13,377 items in 2 GiB by default ("memory"), or the number given', () => {
    expect(itemCap("memory")).toBe(13_377);
    expect(itemCap(undefined)).toBe(13_377);
    expect(itemCap(40)).toBe(40);
    expect(() => itemCap(0)).toThrow(/max_items must be "memory" or a positive integer/);
  });

  for (const factory of [ease, itemknn]) {
    it(`${factory.name}: keeps the most popular items, scores them as on the smaller catalogue, the rest -inf, and says so`, async () => {
      const train = randomTrain(40, 30, 6, 4);
      const counts = popularity(train);
      const kept = Array.from({ length: 30 }, (_, i) => i)
        .sort((a, b) => counts[b] - counts[a] || a - b)
        .slice(0, 12)
        .sort((a, b) => a - b);
      const lines: string[] = [];
      const capped = factory.create({ ...factory.defaults, max_items: 12 });
      await capped.fit(train, { seed: 1, log: (l) => lines.push(l) });
      expect(lines.join("\n")).toMatch(/kept the 12 most popular of 30 items/);
      const small = factory.create({ ...factory.defaults });
      await small.fit(restrict(train, kept), { seed: 1, log: () => {} });
      const got = new Float32Array(40 * 30);
      const expected = new Float32Array(40 * 12);
      capped.score(0, 40, got);
      small.score(0, 40, expected);
      for (let u = 0; u < 40; u++) {
        for (let i = 0; i < 30; i++) {
          const k = kept.indexOf(i);
          if (k < 0) expect(got[u * 30 + i]).toBe(Number.NEGATIVE_INFINITY);
          else expect(got[u * 30 + i]).toBeCloseTo(expected[u * 12 + k], 5);
        }
      }
      if (factory === ease) expect(capped.foldIn?.()).toBeNull();
    });
  }
});

describe("validation on a fixed sample of users", () => {
  it("samples every user when there are few, and otherwise the same sorted, distinct users for a seed", () => {
    expect(userSample(100, 100, 1)).toBeNull();
    const a = userSample(1000, 50, 7)!;
    expect(a).toHaveLength(50);
    expect(new Set(a).size).toBe(50);
    expect(Array.from(a)).toEqual([...a].sort((x, y) => x - y));
    expect(Array.from(userSample(1000, 50, 7)!)).toEqual(Array.from(a));
    expect(Array.from(userSample(1000, 50, 8)!)).not.toEqual(Array.from(a));
  });

  it("averages over exactly the sampled users", async () => {
    const train = randomTrain(60, 20, 4, 2);
    const target = randomTrain(60, 20, 2, 3);
    const model = {
      score(from: number, to: number, out: Float32Array) {
        for (let u = from; u < to; u++) for (let i = 0; i < 20; i++) out[(u - from) * 20 + i] = Math.sin(u * 31 + i * 7);
      },
    };
    const sample = userSample(60, 15, 5)!;
    const sampled = await evaluateMatrices(model, 20, train, target, { users: sample });
    // the same users through the batched path: a target holding only their rows
    const r: number[] = [];
    const c: number[] = [];
    for (const u of sample) {
      for (const i of rowOf(target, u)) {
        r.push(u);
        c.push(i);
      }
    }
    const only = await evaluateMatrices(model, 20, train, csrFromTriples(60, 20, r, c));
    expect(sampled.users).toBe(15);
    expect(sampled.metrics).toEqual(only.metrics);
  });
});
