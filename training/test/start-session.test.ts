// The order of npm start's work, with fake training, publishing and serving: what is trained,
// when serving starts, and which models are published as they finish.
import { describe, expect, it } from "vitest";
import { type StartPlan, type StartSteps, type TrainOutcome, runStart } from "../src/start/session.ts";

interface Fake {
  steps: StartSteps;
  events: string[];
}

function fake(scores: Record<string, number>, opts: { reusable?: string[]; outcomes?: Record<string, TrainOutcome | Error> } = {}): Fake {
  const events: string[] = [];
  const steps: StartSteps = {
    reusable: (m) => (opts.reusable ?? []).includes(m),
    async train(m) {
      events.push(`train ${m}`);
      const outcome = opts.outcomes?.[m] ?? "done";
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
    record: (m) => events.push(`record ${m}`),
    score: (m) => scores[m] ?? null,
    async publish(m) {
      events.push(`publish ${m}`);
    },
    async serve() {
      events.push("serve");
    },
    log: () => {},
  };
  return { steps, events };
}

const plan: StartPlan = { first: "ease", background: ["lightgcn", "blend"], retrain: false, serve: true };

describe("npm start's order of work", () => {
  it("serves the quick model first, then publishes each background model that beats the served one", async () => {
    const { steps, events } = fake({ ease: 0.23, lightgcn: 0.22, blend: 0.25 });
    const result = await runStart(steps, plan);
    expect(result.served).toEqual({ model: "ease", score: 0.23 });
    expect(await result.background).toEqual({ model: "blend", score: 0.25 });
    // lightgcn is worse than ease: trained and recorded, not published
    expect(events).toEqual([
      "train ease",
      "record ease",
      "publish ease",
      "serve",
      "train lightgcn",
      "record lightgcn",
      "train blend",
      "record blend",
      "publish blend",
    ]);
  });

  it("serves before the background training starts", async () => {
    const { steps, events } = fake({ ease: 0.23, lightgcn: 0.24, blend: 0.25 });
    const result = await runStart(steps, plan);
    expect(events.indexOf("serve")).toBeLessThan(events.indexOf("train lightgcn"));
    await result.background;
    expect(events.filter((e) => e.startsWith("publish"))).toEqual(["publish ease", "publish lightgcn", "publish blend"]);
  });

  it("reuses every model an earlier start trained and serves the best of them at once", async () => {
    const { steps, events } = fake({ ease: 0.23, lightgcn: 0.24, blend: 0.25 }, { reusable: ["ease", "lightgcn", "blend"] });
    const result = await runStart(steps, plan);
    expect(result.served?.model).toBe("blend");
    await result.background;
    expect(events).toEqual(["publish blend", "serve"]);
  });

  it("trains only what is not reusable", async () => {
    const { steps, events } = fake({ ease: 0.23, lightgcn: 0.24, blend: 0.25 }, { reusable: ["ease", "lightgcn"] });
    const result = await runStart(steps, plan);
    expect(result.served?.model).toBe("lightgcn");
    await result.background;
    expect(events).toEqual(["publish lightgcn", "serve", "train blend", "record blend", "publish blend"]);
  });

  it("--retrain trains everything even when it is reusable", async () => {
    const { steps, events } = fake({ ease: 0.23, lightgcn: 0.24, blend: 0.25 }, { reusable: ["ease", "lightgcn", "blend"] });
    await (await runStart(steps, { ...plan, retrain: true })).background;
    expect(events.filter((e) => e.startsWith("train"))).toEqual(["train ease", "train lightgcn", "train blend"]);
  });

  it("publishes nothing and does not serve when the first training is interrupted", async () => {
    const { steps, events } = fake({ ease: 0.23 }, { outcomes: { ease: "interrupted" } });
    const result = await runStart(steps, plan);
    expect(result.served).toBeNull();
    expect(events).toEqual(["train ease"]);
  });

  it("keeps serving when a background training fails, and goes on with the next", async () => {
    const { steps, events } = fake({ ease: 0.23, blend: 0.25 }, { outcomes: { lightgcn: new Error("out of memory") } });
    const result = await runStart(steps, plan);
    expect(await result.background).toEqual({ model: "blend", score: 0.25 });
    expect(events).not.toContain("record lightgcn");
    expect(events.at(-1)).toBe("publish blend");
  });

  it("stops the background at an interrupted training, recording and publishing nothing of it", async () => {
    const { steps, events } = fake({ ease: 0.23, lightgcn: 0.3 }, { outcomes: { lightgcn: "interrupted" } });
    const result = await runStart(steps, plan);
    expect(await result.background).toEqual({ model: "ease", score: 0.23 });
    expect(events).toEqual(["train ease", "record ease", "publish ease", "serve", "train lightgcn"]);
  });

  it("without serving, trains everything first and publishes only the best", async () => {
    const { steps, events } = fake({ ease: 0.23, lightgcn: 0.24, blend: 0.22 });
    const result = await runStart(steps, { ...plan, serve: false });
    expect(result.served?.model).toBe("lightgcn");
    expect(events).toEqual(["train ease", "record ease", "train lightgcn", "record lightgcn", "train blend", "record blend", "publish lightgcn"]);
  });

  it("when publishing fails, waits for the server to be up before failing (so that it can be stopped)", async () => {
    const { steps, events } = fake({ ease: 0.23 });
    steps.publish = async () => {
      throw new Error("local R2 unavailable");
    };
    steps.serve = async () => {
      await new Promise((r) => setTimeout(r, 50));
      events.push("server up");
    };
    await expect(runStart(steps, plan)).rejects.toThrow("local R2 unavailable");
    expect(events).toEqual(["train ease", "record ease", "server up"]);
  });
});
