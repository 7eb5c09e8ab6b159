import { describe, expect, it } from "vitest";
import { type Int8Table, decodeInt8Table, encodeInt8Table } from "../../training/src/contract/artifacts.ts";
import { compiledRankKernel } from "../../training/src/export/evaluate-graph.ts";
import { Rng } from "../../training/src/util/rng.ts";
import { MAX_RANKED, type Scored, int8Ranker } from "../../training/src/shared/int8-ranker.ts";
import { type ItemMask, addRow, emptyMask, hasRow } from "../../training/src/shared/item-mask.ts";

const kernel = compiledRankKernel();

function randomTable(rng: Rng, rows: number, dim: number, levels = 255): Int8Table {
  const values = Int8Array.from({ length: rows * dim }, () => Math.round((rng.next() - 0.5) * (levels - 1)));
  const scales = Float32Array.from({ length: rows }, () => 0.001 + rng.next() * 0.02);
  return { rows, dim, scales, values };
}

/** What the kernel computes, in plain code: int16 query, integer dots, f32 scaling, a full sort. */
function reference(t: Int8Table, vector: Float32Array, k: number, exclude: number[], allowed: ItemMask | null = null): Scored[] {
  let max = 0;
  for (const v of vector) max = Math.max(max, Math.abs(v));
  const scale = Math.fround(max > 0 ? max / 32767 : 1);
  const q = Array.from(vector, (v) => Math.round(v / (max > 0 ? max / 32767 : 1)));
  const skip = new Set(exclude);
  const all: Scored[] = [];
  for (let j = 0; j < t.rows; j++) {
    if (skip.has(j) || (allowed && !hasRow(allowed, j))) continue;
    let dot = 0;
    for (let c = 0; c < t.dim; c++) dot += t.values[j * t.dim + c] * q[c];
    all.push({ item: j, score: Math.fround(Math.fround(Math.fround(dot) * scale) * t.scales[j]) });
  }
  all.sort((a, b) => b.score - a.score || a.item - b.item);
  return all.slice(0, k);
}

/** Exact float32 scores of the table as stored (values times scales): what int8 approximates. */
function exactScores(t: Int8Table, vector: Float32Array): number[] {
  return Array.from({ length: t.rows }, (_, j) => {
    let s = 0;
    for (let c = 0; c < t.dim; c++) s += t.values[j * t.dim + c] * t.scales[j] * vector[c];
    return s;
  });
}

describe("int8 ranker", () => {
  it("matches the reference on random tables of every padding, with exclusions", async () => {
    const rng = new Rng(7);
    for (const dim of [1, 8, 16, 24, 64, 70]) {
      const t = randomTable(rng, 300, dim);
      const ranker = int8Ranker(kernel, t);
      for (let trial = 0; trial < 5; trial++) {
        const vector = Float32Array.from({ length: dim }, () => rng.normal());
        const exclude = Array.from({ length: rng.int(40) }, () => rng.int(300));
        const k = 1 + rng.int(60);
        expect(ranker.rank(vector, k, exclude)).toEqual(reference(t, vector, k, exclude));
      }
    }
  });

  it("matches the reference with a mask of allowed rows, and forgets the mask after the call", async () => {
    const rng = new Rng(11);
    for (const [rows, dim] of [
      [300, 16],
      [301, 24],
      [7, 70],
      [1000, 64],
    ]) {
      const t = randomTable(rng, rows, dim);
      const ranker = int8Ranker(kernel, t);
      for (let trial = 0; trial < 6; trial++) {
        const vector = Float32Array.from({ length: dim }, () => rng.normal());
        const allowed = emptyMask(rows);
        // sparse to dense masks: a genre is a few percent of a catalogue, a year range most of it
        const share = [0.02, 0.3, 0.9][trial % 3];
        for (let j = 0; j < rows; j++) if (rng.next() < share) addRow(allowed, j);
        const exclude = Array.from({ length: rng.int(40) }, () => rng.int(rows));
        const k = 1 + rng.int(Math.min(60, rows));
        const got = ranker.rank(vector, k, exclude, allowed);
        expect(got).toEqual(reference(t, vector, k, exclude, allowed));
        for (const r of got) expect(hasRow(allowed, r.item)).toBe(true);
        // the next call without a mask ranks every row again
        expect(ranker.rank(vector, k, exclude)).toEqual(reference(t, vector, k, exclude));
      }
    }
  });

  it("refuses a mask shorter than the table", () => {
    const t = randomTable(new Rng(2), 40, 16);
    expect(() => int8Ranker(kernel, t).rank(new Float32Array(16), 3, [], emptyMask(20))).toThrow(/mask of 3 bytes/);
  });

  it("keeps the lower row first among equal scores, as ONNX TopK does", async () => {
    // every row the same: the order must be the row order, whatever k
    const rows = 50;
    const t: Int8Table = { rows, dim: 16, scales: new Float32Array(rows).fill(0.01), values: new Int8Array(rows * 16).fill(3) };
    const ranker = int8Ranker(kernel, t);
    const got = ranker.rank(new Float32Array(16).fill(1), 7, [0, 2]);
    expect(got.map((r) => r.item)).toEqual([1, 3, 4, 5, 6, 7, 8]);
  });

  it("returns only what is left after exclusion, and forgets the exclusions of the last call", async () => {
    const rng = new Rng(3);
    const t = randomTable(rng, 20, 16);
    const ranker = int8Ranker(kernel, t);
    const vector = Float32Array.from({ length: 16 }, () => rng.normal());
    const some = Array.from({ length: 17 }, (_, j) => j);
    expect(
      ranker
        .rank(vector, 10, some)
        .map((r) => r.item)
        .sort((a, b) => a - b),
    ).toEqual([17, 18, 19]);
    expect(ranker.rank(vector, 20, [])).toEqual(reference(t, vector, 20, []));
    expect(ranker.rank(new Float32Array(16), 3, [])).toHaveLength(3);
  });

  it("ranks as the exact float scores do, up to the int16 query's rounding", async () => {
    const rng = new Rng(9);
    const t = randomTable(rng, 2000, 64);
    const ranker = int8Ranker(kernel, t);
    for (let trial = 0; trial < 10; trial++) {
      const vector = Float32Array.from({ length: 64 }, () => rng.normal());
      const exact = exactScores(t, vector);
      const top = Math.max(...exact.map(Math.abs));
      const got = ranker.rank(vector, 20, []);
      for (const r of got) expect(Math.abs(r.score - exact[r.item])).toBeLessThan(top * 1e-3);
      // any row the kernel left out scores no better than its last, beyond that rounding
      const kept = new Set(got.map((r) => r.item));
      const last = exact[got[got.length - 1].item];
      for (let j = 0; j < t.rows; j++) if (!kept.has(j)) expect(exact[j]).toBeLessThan(last + top * 2e-3);
    }
  });

  it("refuses a vector of the wrong length and a k over its capacity", async () => {
    const t = randomTable(new Rng(1), 2000, 16);
    const ranker = int8Ranker(kernel, t);
    expect(() => ranker.rank(new Float32Array(15), 5, [])).toThrow(/dimension 16/);
    expect(() => ranker.rank(new Float32Array(16), MAX_RANKED + 1, [])).toThrow(/over/);
  });

  it("reads back what candidates.bin encodes, and refuses bytes that are not a table", () => {
    const t = randomTable(new Rng(2), 7, 5);
    const bytes = encodeInt8Table(t);
    const back = decodeInt8Table(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    expect(back.rows).toBe(7);
    expect(back.dim).toBe(5);
    expect(Array.from(back.values)).toEqual(Array.from(t.values));
    expect(Array.from(back.scales)).toEqual(Array.from(t.scales));
    expect(() => decodeInt8Table(new ArrayBuffer(40))).toThrow(/magic/);
    expect(() => decodeInt8Table(bytes.buffer.slice(0, bytes.byteLength - 1) as ArrayBuffer)).toThrow(/bytes/);
  });
});

describe("int8 best matches (the reasons)", () => {
  /** Plain reference: for each item, the first history position with the largest scaled integer dot. */
  function referenceMatches(t: Int8Table, items: number[], history: number[]): { position: number; similarity: number }[] {
    return items.map((i) => {
      let best = Number.NEGATIVE_INFINITY;
      let position = 0;
      history.forEach((h, p) => {
        let dot = 0;
        for (let c = 0; c < t.dim; c++) dot += t.values[i * t.dim + c] * t.values[h * t.dim + c];
        const s = Math.fround(Math.fround(Math.fround(dot) * t.scales[i]) * t.scales[h]);
        if (s > best) {
          best = s;
          position = p;
        }
      });
      return { position, similarity: best };
    });
  }

  it("matches the reference on random tables of every padding", () => {
    const rng = new Rng(12);
    for (const dim of [1, 16, 24, 64, 70]) {
      const t = randomTable(rng, 200, dim);
      const ranker = int8Ranker(kernel, t);
      for (let trial = 0; trial < 5; trial++) {
        const items = Array.from({ length: 1 + rng.int(20) }, () => rng.int(200));
        const history = Array.from({ length: 1 + rng.int(150) }, () => rng.int(200));
        expect(ranker.bestMatches(items, history)).toEqual(referenceMatches(t, items, history));
      }
    }
  });

  it("keeps the earlier position among equal scores, and leaves ranking unchanged afterwards", () => {
    const rows = 30;
    const t: Int8Table = { rows, dim: 16, scales: new Float32Array(rows).fill(0.01), values: new Int8Array(rows * 16).fill(2) };
    const ranker = int8Ranker(kernel, t);
    expect(ranker.bestMatches([0, 5], [7, 3, 9]).map((m) => m.position)).toEqual([0, 0]);
    const rng = new Rng(5);
    const r = randomTable(rng, 40, 16);
    const other = int8Ranker(kernel, r);
    const vector = Float32Array.from({ length: 16 }, () => rng.normal());
    other.bestMatches(
      [1, 2, 3],
      Array.from({ length: 40 }, (_, j) => j),
    );
    expect(other.rank(vector, 40, [])).toEqual(reference(r, vector, 40, []));
  });

  it("refuses rows outside the table", () => {
    const ranker = int8Ranker(kernel, randomTable(new Rng(4), 10, 16));
    expect(() => ranker.bestMatches([10], [1])).toThrow(/not in the table/);
    expect(() => ranker.bestMatches([1], [-1])).toThrow(/not in the table/);
  });
});
