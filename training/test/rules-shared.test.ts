// The code a request's rules share between the Worker and training's benches: the item bitsets
// (training/src/shared/item-mask.ts) and maximal marginal relevance (training/src/shared/mmr.ts),
// each against a plain restatement of its rule.
import { describe, expect, it } from "vitest";
import { addRow, countRows, emptyMask, fullMask, hasRow, intersect, removeRow, unite, widenMask } from "../src/shared/item-mask.ts";
import type { Scored } from "../src/shared/int8-ranker.ts";
import { genreBits, genreSimilarity, genresCovered, mmr } from "../src/shared/mmr.ts";
import { Rng } from "../src/util/rng.ts";

describe("item masks", () => {
  it("hold exactly the rows set, count them, widen them, and combine like sets", () => {
    const rng = new Rng(4);
    for (const rows of [1, 7, 8, 9, 100, 1683]) {
      const a = emptyMask(rows);
      const b = emptyMask(rows);
      const setA = new Set<number>();
      const setB = new Set<number>();
      for (let j = 0; j < rows; j++) {
        if (rng.next() < 0.3) {
          addRow(a, j);
          setA.add(j);
        }
        if (rng.next() < 0.6) {
          addRow(b, j);
          setB.add(j);
        }
      }
      for (let j = 0; j < rows; j++) expect(hasRow(a, j)).toBe(setA.has(j));
      expect(countRows(a)).toBe(setA.size);
      expect(Array.from(widenMask(a, rows))).toEqual(Array.from({ length: rows }, (_, j) => (setA.has(j) ? 1 : 0)));
      const and = a.slice();
      intersect(and, b);
      expect(countRows(and)).toBe([...setA].filter((j) => setB.has(j)).length);
      const or = a.slice();
      unite(or, b);
      expect(countRows(or)).toBe(new Set([...setA, ...setB]).size);
      // the full mask holds every row and no bit past the last
      expect(countRows(fullMask(rows))).toBe(rows);
      const full = fullMask(rows);
      removeRow(full, rows - 1);
      expect(hasRow(full, rows - 1)).toBe(false);
      expect(countRows(full)).toBe(rows - 1);
    }
  });

  it("count only the first rows of a mask over a longer catalogue", () => {
    const mask = fullMask(20);
    expect(countRows(mask, 13)).toBe(13);
    expect(countRows(mask, 16)).toBe(16);
    expect(countRows(mask, 20)).toBe(20);
  });
});

/** MMR restated plainly: the next pick maximises (1 - d) rel - d max-sim, ties to the earlier candidate. */
function reference(c: Scored[], k: number, d: number, sim: (a: number, b: number) => number): Scored[] {
  if (d <= 0) return c.slice(0, k);
  const max = Math.max(...c.map((x) => x.score));
  const min = Math.min(...c.map((x) => x.score));
  const rel = (i: number) => (max > min ? (c[i].score - min) / (max - min) : 1);
  const picked: number[] = [];
  while (picked.length < Math.min(k, c.length)) {
    let best = -1;
    let value = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < c.length; i++) {
      if (picked.includes(i)) continue;
      const v = (1 - d) * rel(i) - d * Math.max(0, ...picked.map((p) => sim(i, p)));
      if (v > value) [best, value] = [i, v];
    }
    picked.push(best);
  }
  return picked.map((i) => c[i]);
}

describe("maximal marginal relevance", () => {
  it("matches the plain rule on random candidates and genre sets, at every diversity", () => {
    const rng = new Rng(9);
    for (let trial = 0; trial < 30; trial++) {
      const n = 1 + rng.int(60);
      const genres = Array.from({ length: n }, () => Array.from({ length: 1 + rng.int(3) }, () => ["A", "B", "C", "D", "E", "F"][rng.int(6)]));
      const { bits } = genreBits(genres);
      const c: Scored[] = Array.from({ length: n }, (_, item) => ({ item, score: rng.normal() })).sort((x, y) => y.score - x.score);
      const sim = (a: number, b: number) => genreSimilarity(bits[c[a].item], bits[c[b].item]);
      for (const d of [0, 0.25, 0.5, 0.75, 1]) {
        const k = 1 + rng.int(12);
        expect(mmr(c, k, d, sim)).toEqual(reference(c, k, d, sim));
      }
    }
  });

  it("leaves the list as ranked at 0, keeps the best first, and spreads genres at 1", () => {
    // ten candidates: the best six are all "A", then one each of B, C, D, E
    const genres = [...Array(6).fill(["A"]), ["B"], ["C"], ["D"], ["E"]];
    const { bits } = genreBits(genres);
    const c: Scored[] = genres.map((_, item) => ({ item, score: 10 - item }));
    const sim = (a: number, b: number) => genreSimilarity(bits[c[a].item], bits[c[b].item]);
    expect(mmr(c, 5, 0, sim)).toEqual(c.slice(0, 5));
    const varied = mmr(c, 5, 1, sim).map((s) => s.item);
    expect(varied[0]).toBe(0);
    expect(genresCovered(bits, varied)).toBe(5);
    expect(genresCovered(bits, [0, 1, 2, 3, 4])).toBe(1);
  });

  it("scores genre sets by Jaccard", () => {
    const { bits } = genreBits([["Comedy", "Drama"], ["Drama"], ["Horror"], []]);
    expect(genreSimilarity(bits[0], bits[1])).toBe(0.5);
    expect(genreSimilarity(bits[0], bits[2])).toBe(0);
    expect(genreSimilarity(bits[0], bits[0])).toBe(1);
    expect(genreSimilarity(bits[3], bits[3])).toBe(0);
  });
});
