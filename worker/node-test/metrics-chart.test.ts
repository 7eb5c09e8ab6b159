// The admin chart's geometry: one line per arm and model, time across, the figure up from 0 at
// the bottom to the largest value at the top, undefined values (CTR without impressions) left out.
import { describe, expect, it } from "vitest";
import { type SeriesPoint, chartOf } from "../page/metrics-chart.ts";

const BOX = { width: 220, height: 120, left: 20, bottom: 10, top: 10, right: 0 };
const point = (t: number, arm: string, over: Partial<SeriesPoint> = {}): SeriesPoint => ({
  t,
  arm,
  model: "m1",
  lists: 0,
  impressions: 0,
  clicks: 0,
  ctr: null,
  conversions: 0,
  ...over,
});

describe("chartOf", () => {
  it("places each arm's points by time and value inside the plot box", () => {
    const series = [point(200, "b", { lists: 5 }), point(0, "a", { lists: 10 }), point(100, "a", { lists: 5 }), point(200, "a", { lists: 0 })];
    const chart = chartOf(series, "lists", BOX);
    expect(chart.yMax).toBe(10);
    expect([chart.tMin, chart.tMax]).toEqual([0, 200]);
    // plot: x from 20 to 220, y from 110 (value 0) up to 10 (value 10)
    expect(chart.lines).toEqual([
      {
        label: "a · m1",
        points: [
          [20, 10],
          [120, 60],
          [220, 110],
        ],
      },
      { label: "b · m1", points: [[220, 60]] },
    ]);
  });

  it("leaves out buckets whose figure is undefined, and draws an all-zero series on the axis", () => {
    const ctr = chartOf([point(0, "a", { ctr: 0.5 }), point(60, "a", { ctr: null }), point(120, "a", { ctr: 0.25 })], "ctr", BOX);
    expect(ctr.lines[0].points).toEqual([
      [20, 10],
      [220, 60],
    ]);
    const zeros = chartOf([point(0, "a"), point(60, "a")], "clicks", BOX);
    expect(zeros.yMax).toBe(1);
    expect(zeros.lines[0].points.map(([, y]) => y)).toEqual([110, 110]);
  });

  it("draws a single bucket in the middle, and nothing for no data", () => {
    expect(chartOf([point(50, "a", { lists: 2 })], "lists", BOX).lines[0].points).toEqual([[120, 10]]);
    expect(chartOf([], "lists", BOX).lines).toEqual([]);
  });
});
