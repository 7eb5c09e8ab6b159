// The EASE + LightGCN blend: rows standardized, and the weight moving the ranking from one model
// to the other.
import { describe, expect, it } from "vitest";
import { blend, standardizeRows } from "../src/models/blend.ts";
import { ease } from "../src/models/ease.ts";
import { randomTrain } from "./graph-helpers.ts";

const ctx = { seed: 3, log: () => {} };
const small = { ease_lambda: 20, threads: 1 };

describe("the blend of EASE and LightGCN", () => {
  it("standardizes each row to mean 0 and standard deviation 1 (a constant row to zeros)", () => {
    const rows = Float32Array.of(1, 2, 3, 5, 5, 5);
    standardizeRows(rows, 2, 3);
    expect(Array.from(rows.subarray(0, 3)).map((v) => Number(v.toFixed(4)))).toEqual([-1.2247, 0, 1.2247]);
    expect(Array.from(rows.subarray(3))).toEqual([0, 0, 0]);
  });

  it("scores as EASE alone at weight 1, and as the weighted mix of both standardized scores in between", async () => {
    const train = randomTrain(30, 20, 5, 8);
    const scores = async (w: number) => {
      const m = blend.create({ ...blend.defaults, ...small, ease_weight: w });
      await m.fit(train, ctx);
      const out = new Float32Array(30 * 20);
      m.score(0, 30, out);
      return out;
    };
    const easeOnly = ease.create({ lambda: 20 });
    await easeOnly.fit(train, ctx);
    const expected = new Float32Array(30 * 20);
    easeOnly.score(0, 30, expected);
    standardizeRows(expected, 30, 20);
    const atOne = await scores(1);
    for (let k = 0; k < expected.length; k++) expect(atOne[k]).toBeCloseTo(expected[k], 4);
    // the same seed trains the same LightGCN, so the mix is linear in the weight
    const [s0, sHalf] = [await scores(0), await scores(0.5)];
    for (let k = 0; k < expected.length; k++) expect(sHalf[k]).toBeCloseTo(0.5 * s0[k] + 0.5 * atOne[k], 3);
  });

  it("refuses a weight outside [0, 1]", async () => {
    await expect(blend.create({ ...blend.defaults, ease_weight: 1.5 }).fit(randomTrain(5, 5, 2, 1), ctx)).rejects.toThrow(/ease_weight must be in \[0, 1\]/);
  });
});
