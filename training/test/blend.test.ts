// The EASE + LightGCN blend: rows standardized, the weight moving the ranking from one model to
// the other, the weight chosen on valid, and every user scored from their history as served.
import { describe, expect, it } from "vitest";
import type { MetricValues } from "../src/eval/metrics.ts";
import { BLEND_WEIGHTS, blend } from "../src/models/blend.ts";
import { ease } from "../src/models/ease.ts";
import { foldInScores, standardize } from "../src/models/foldin.ts";
import { rowOf } from "../src/protocol/csr.ts";
import { randomTrain } from "./graph-helpers.ts";

const ctx = { seed: 3, log: () => {} };
const small = { ease_lambda: 20, threads: 1 };

describe("the blend of EASE and LightGCN", () => {
  it("standardizes scores to mean 0 and standard deviation 1 (a constant row to zeros)", () => {
    const row = Float32Array.of(1, 2, 3);
    standardize(row, 3);
    expect(Array.from(row).map((v) => Number(v.toFixed(4)))).toEqual([-1.2247, 0, 1.2247]);
    const flat = Float32Array.of(5, 5, 5);
    standardize(flat, 3);
    expect(Array.from(flat)).toEqual([0, 0, 0]);
  });

  it("scores as EASE (B in half precision) alone at weight 1, and as the weighted mix in between", async () => {
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
    for (let u = 0; u < 30; u++) standardize(expected.subarray(u * 20, (u + 1) * 20), 20);
    const atOne = await scores(1);
    // half precision moves standardized scores by well under 1e-2
    for (let k = 0; k < expected.length; k++) expect(Math.abs(atOne[k] - expected[k])).toBeLessThan(1e-2);
    // the same seed trains the same LightGCN, so the mix is linear in the weight
    const [s0, sHalf] = [await scores(0), await scores(0.5)];
    for (let k = 0; k < expected.length; k++) expect(sHalf[k]).toBeCloseTo(0.5 * s0[k] + 0.5 * atOne[k], 3);
  });

  it("scores a train user from the user's index and train history (what the served graph is given)", async () => {
    const train = randomTrain(25, 18, 4, 2);
    const m = blend.create({ ...blend.defaults, ...small, ease_weight: 0.4 });
    await m.fit(train, ctx);
    const f = m.foldIn!();
    expect(f?.kind).toBe("mix");
    expect(f?.kind === "mix" && f.parts.map((p) => p.foldIn.kind)).toEqual(["item-item", "known-user"]);
    const row = new Float32Array(18);
    const byHistory = new Float32Array(18);
    for (const u of [0, 7, 24]) {
      m.score(u, u + 1, row);
      foldInScores(f!, rowOf(train, u), byHistory, u);
      expect(Array.from(row)).toEqual(Array.from(byHistory));
    }
  });

  it('chooses ease_weight on valid when it is "valid", and reports the choice and the candidates', async () => {
    const train = randomTrain(20, 15, 4, 5);
    const m = blend.create({ ...blend.defaults, ...small });
    const seen: number[] = [];
    await m.fit(train, {
      ...ctx,
      validate: async (model) => {
        // LightGCN's early stopping validates too, as itself
        if (model.name !== "blend") return { "ndcg@10": 0 } as MetricValues;
        const f = model.foldIn!();
        if (f?.kind !== "mix") throw new Error("the blend folds in as a mix");
        const w = f.parts[0].weight;
        seen.push(w);
        // a valid set that prefers 0.4
        return { "ndcg@10": 1 - Math.abs(w - 0.4) } as MetricValues;
      },
    });
    expect(seen).toEqual([...BLEND_WEIGHTS]);
    const info = m.fitInfo!();
    expect(info.chosen).toEqual({ ease_weight: 0.4 });
    expect(info.tuning?.map((r) => r.params.ease_weight)).toEqual([...BLEND_WEIGHTS]);
    const f = m.foldIn!();
    expect(f?.kind === "mix" && f.parts.map((p) => p.weight)).toEqual([0.4, 1 - 0.4]);
  });

  it("folds in a new user's history weighted by recency (7 by default, 0: none), a known user's unweighted", async () => {
    const train = randomTrain(25, 18, 4, 2);
    const m = blend.create({ ...blend.defaults, ...small, ease_weight: 0.4 });
    await m.fit(train, ctx);
    const f = m.foldIn?.();
    if (f?.kind !== "mix") throw new Error("the blend folds in a mix");
    expect(f.recency).toBe(7);
    const off = blend.create({ ...blend.defaults, ...small, ease_weight: 0.4, recency: 0 });
    await off.fit(train, ctx);
    const g = off.foldIn?.();
    if (g?.kind !== "mix") throw new Error("the blend folds in a mix");
    expect(g.recency).toBeUndefined();
    const [a, b] = [new Float32Array(18), new Float32Array(18)];
    // a known user: the same scores with and without recency (a snapshot has no order)
    foldInScores(f, rowOf(train, 3), a, 3);
    foldInScores(g, rowOf(train, 3), b, 3);
    expect(Array.from(a)).toEqual(Array.from(b));
    // a new user: the order of the history matters only with recency
    const history = [2, 9, 14, 5];
    foldInScores(f, history, a, -1);
    foldInScores(f, [...history].reverse(), b, -1);
    expect(Array.from(a)).not.toEqual(Array.from(b));
    await expect(blend.create({ ...blend.defaults, recency: -1 }).fit(randomTrain(5, 5, 2, 1), ctx)).rejects.toThrow(
      /recency must be a number of history entries >= 0/,
    );
  });

  it("refuses a weight outside [0, 1]", async () => {
    await expect(blend.create({ ...blend.defaults, ease_weight: 1.5 }).fit(randomTrain(5, 5, 2, 1), ctx)).rejects.toThrow(/ease_weight must be in \[0, 1\]/);
  });
});
