// Time to quality: the training seconds until valid NDCG@10 first reaches the level a published
// test figure corresponds to, scaled by the run's own valid/test ratio.
import { describe, expect, it } from "vitest";
import type { MetricValues } from "../src/eval/metrics.ts";
import { type ModelRow, timeToQuality } from "../src/report/compare.ts";

const ndcg = (v: number) => ({ "ndcg@10": v }) as MetricValues;

function row(validCurve: (number | null)[], best: { valid: number; test: number }): ModelRow {
  return {
    model: "lightgcn",
    params: { threads: 2 },
    fit_seconds: 0,
    epochs: validCurve.length,
    best_epoch: validCurve.length,
    test: ndcg(best.test),
    valid: ndcg(best.valid),
    log: validCurve.map((v, i) => ({ epoch: i + 1, loss: 0, bpr: 0, reg: 0, seconds: 1.5, ...(v === null ? {} : { valid: ndcg(v) }) })),
  };
}

describe("time to quality", () => {
  it("sums epoch seconds up to the first validated epoch at or above the scaled level", () => {
    // level = 0.25 * (0.2 / 0.25) = 0.2
    const t = timeToQuality(row([null, 0.15, null, 0.2, 0.21], { valid: 0.2, test: 0.25 }), 0.25, 7);
    expect(t).toMatchObject({ valid_level: 0.2, seconds: 6, epoch: 4, seed: 7, threads: 2 });
  });

  it("says when the level was never reached", () => {
    expect(timeToQuality(row([0.1, 0.12], { valid: 0.12, test: 0.15 }), 0.2, 1)).toMatchObject({ seconds: null, epoch: null });
  });
});
