// bench:replay's parts without a Worker: the stream (known times, the cut, the sample, the week
// ends), the driver against in-memory arms (each arm sees only its own ratings, frozen none; a
// list sees every earlier rating of its user; a week end's retrain sees every earlier rating and
// none after), the weekly retrain's record (refused: why; published: waited for until served),
// and replay.json's shape.
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { RetrainOutcome } from "../../training/src/retrain/retrain.ts";
import type { Store } from "../../training/src/retrain/store.ts";
import type { ArmClient } from "../bench/replay/arm-client.ts";
import { type Arm, type ArmName, type WeekEnd, drive } from "../bench/replay/drive.ts";
import { buildReport, writeReport } from "../bench/replay/report.ts";
import type { Rating } from "../../training/src/data/time-order.ts";
import { WEEK_SECONDS, cutAt, sampleIndices, weekEnds, weeksSpanned, withKnownTimes } from "../bench/replay/stream.ts";
import { retrainAtWeekEnd } from "../bench/replay/weekly-retrain.ts";

const DAY = 24 * 3600;
const T0 = 900_000_000;
/** What the driver adds to the stream's times (the replay moves the stream to just before it runs). */
const SHIFT = 864_000_000;

/** A Worker in memory: lists are the catalogue in order minus what the user rated in THIS arm. */
function memoryArm(catalogue: number[]) {
  const rated = new Map<number, Map<number, number>>();
  const posts: { user: number; movieId: number; rating: number; timestamp?: number }[] = [];
  const impressions: { user: number; recId: string; movies: number[]; ts: number }[] = [];
  const lists: { user: number; ranked: number[]; postedBefore: number }[] = [];
  let served = "v1";
  let lastId = 0;
  const client: ArmClient = {
    async recs(user, k) {
      const mine = rated.get(user);
      const ranked = catalogue.filter((m) => !mine?.has(m)).slice(0, k);
      lists.push({ user, ranked, postedBefore: posts.length });
      return { ranked, model: served, source: mine ? "fold-in" : "popular", recId: `r${++lastId}`, ignored: 0 };
    },
    async impressions(user, recId, movies, ts) {
      impressions.push({ user, recId, movies: [...movies], ts });
    },
    async rate(user, entries) {
      const mine = rated.get(user) ?? new Map<number, number>();
      rated.set(user, mine);
      for (const e of entries) {
        mine.set(e.movieId, e.rating);
        posts.push({ user, ...e });
      }
    },
    async metrics() {
      return [{ arm: "default", model: served, lists: lists.length, impressions: impressions.reduce((s, i) => s + i.movies.length, 0) }];
    },
    async version() {
      return served;
    },
  };
  return {
    client,
    rated,
    posts,
    impressions,
    lists,
    serve: (v: string): void => {
      served = v;
    },
  };
}

/** Three users over three weeks, one rating a day; user 3 appears only in week 2. */
function tinyStream(): Rating[] {
  const out: Rating[] = [];
  for (let d = 0; d < 21; d++) {
    const user = d >= 7 && d < 14 && d % 2 === 0 ? 3 : 1 + (d % 2);
    out.push({ user, movie: 100 + d, rating: d % 4 === 0 ? 2 : 5, timestamp: T0 + d * DAY });
  }
  return out;
}

describe("the replayed stream", () => {
  it("leaves out ratings of unknown time (ML-1M's timestamp 0) and cuts at a percentile of the rest", () => {
    const events: Rating[] = [
      { user: 9, movie: 1, rating: 4, timestamp: 0 },
      ...Array.from({ length: 10 }, (_, i) => ({ user: 1, movie: i, rating: 4, timestamp: T0 + i })),
    ];
    const { kept, dropped } = withKnownTimes(events);
    expect(dropped).toBe(1);
    expect(kept.every((e) => e.timestamp > 0)).toBe(true);
    const cut = cutAt(kept, 80);
    expect(cut.time).toBe(T0 + 8);
    expect(cut.before.map((e) => e.movie)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(cut.after.map((e) => e.movie)).toEqual([8, 9]);
    expect(() => cutAt([], 80)).toThrow(/no ratings to cut/);
    expect(() => cutAt(kept, 100)).toThrow(/--cut/);
  });

  it("ends a week every 7 days after the cut, up to the last rating", () => {
    expect(weekEnds(T0, T0 + 6 * DAY)).toEqual([]);
    expect(weekEnds(T0, T0 + 7 * DAY)).toEqual([T0 + WEEK_SECONDS]);
    expect(weekEnds(T0, T0 + 20 * DAY)).toEqual([T0 + WEEK_SECONDS, T0 + 2 * WEEK_SECONDS]);
    expect(weeksSpanned(T0, T0 + 6 * DAY)).toBe(1);
    expect(weeksSpanned(T0, T0 + 20 * DAY)).toBe(3);
  });

  it("samples the same later ratings for the same seed, all of them for 0", () => {
    expect([...sampleIndices(5, 0, 1)].sort()).toEqual([0, 1, 2, 3, 4]);
    const a = sampleIndices(1000, 50, 7);
    expect(a.size).toBe(50);
    expect([...a]).toEqual([...sampleIndices(1000, 50, 7)]);
    expect([...a]).not.toEqual([...sampleIndices(1000, 50, 8)]);
  });
});

describe("the replay driver", () => {
  const catalogue = Array.from({ length: 40 }, (_, i) => 100 + i);

  async function run(chosen?: Set<number>) {
    const after = tinyStream();
    const arms = { frozen: memoryArm(catalogue), live: memoryArm(catalogue), retrain: memoryArm(catalogue) };
    const list: Arm[] = (["frozen", "live", "retrain"] as const).map((name) => ({ name, client: arms[name].client, takesRatings: name !== "frozen" }));
    const seenAtWeekEnd: { end: WeekEnd; posted: number[] }[] = [];
    const result = await drive(list, {
      k: 10,
      after,
      chosen: chosen ?? new Set(after.map((_, i) => i)),
      weekEnds: weekEnds(T0, after[after.length - 1].timestamp),
      onWeekEnd: async (end) => {
        seenAtWeekEnd.push({ end, posted: arms.retrain.posts.map((p) => p.movieId) });
        arms.retrain.serve(`v${end.week + 1}`);
      },
      shift: SHIFT,
    });
    return { after, arms, result, seenAtWeekEnd };
  }

  it("posts ratings and impressions at the stream's own times, shifted as one", async () => {
    const { after, arms } = await run(new Set([3, 10, 20]));
    const times = new Map(after.map((e) => [`${e.user}:${e.movie}`, e.timestamp + SHIFT]));
    for (const p of arms.live.posts) expect(p.timestamp).toBe(times.get(`${p.user}:${p.movieId}`));
    // each list's impressions at the time of the rating it was shown before
    expect(arms.live.impressions.map((i) => i.ts)).toEqual([3, 10, 20].map((n) => after[n].timestamp + SHIFT));
  });

  it("posts every later rating once to live and retrain, none to frozen, each to its own arm", async () => {
    const { after, arms, result } = await run(new Set([3, 10, 20]));
    expect(arms.frozen.posts).toEqual([]);
    const expected = after.map((e) => `${e.user}:${e.movie}:${e.rating}`).sort();
    for (const name of ["live", "retrain"] as const) expect(arms[name].posts.map((p) => `${p.user}:${p.movieId}:${p.rating}`).sort()).toEqual(expected);
    expect(result.ratingsPosted).toBe(after.length);
    // in time order: every rating before a list (of any user) is posted before it, none after
    expect(arms.live.lists.map((l) => l.postedBefore)).toEqual([3, 10, 20]);
    const byNumber = (a: number, b: number): number => a - b;
    for (const [from, to] of [
      [0, 3],
      [3, 10],
      [10, 20],
    ])
      expect(
        arms.live.posts
          .slice(from, to)
          .map((p) => p.movieId)
          .sort(byNumber),
      ).toEqual(after.slice(from, to).map((e) => e.movie));
    // a rating posted to one arm is not in another's state: the frozen arm's lists never exclude it
    for (const l of arms.frozen.lists) expect(l.ranked).toEqual(catalogue.slice(0, 10));
  });

  it("asks every arm for the list before the rating, with every earlier rating of the user (and none later) in the arm", async () => {
    const { after, arms, result } = await run();
    for (const name of ["live", "retrain"] as const) {
      arms[name].lists.forEach((l, n) => {
        const e = after[n];
        expect(l.user).toBe(e.user);
        // exactly the user's earlier ratings are excluded: not the movie about to be rated (the
        // rating comes after the list), not the other users' ratings
        const earlier = new Set(
          after
            .slice(0, n)
            .filter((x) => x.user === e.user)
            .map((x) => x.movie),
        );
        expect(l.ranked).toEqual(catalogue.filter((m) => !earlier.has(m)).slice(0, 10));
      });
    }
    // each list's impressions were posted, one per shown movie
    expect(arms.live.impressions.map((i) => i.movies)).toEqual(arms.live.lists.map((l) => l.ranked));
    expect(result.tallies.get("live")?.requests).toBe(after.length);
    expect(result.users).toBe(3);
  });

  it("retrains at each week end with every earlier rating posted and none after, and the lists after it come from the new version", async () => {
    const { after, seenAtWeekEnd, result } = await run(new Set([0, 8, 16]));
    expect(seenAtWeekEnd.map((s) => s.end.week)).toEqual([1, 2]);
    for (const { end, posted } of seenAtWeekEnd) {
      const before = after.filter((e) => e.timestamp < end.at).map((e) => e.movie);
      expect(posted.sort()).toEqual(before.sort());
      expect(end.liveRatings).toBe(before.length);
    }
    expect(Object.fromEntries(result.servedBy.get("retrain") ?? [])).toEqual({ v1: 1, v2: 1, v3: 1 });
    expect(Object.fromEntries(result.servedBy.get("live") ?? [])).toEqual({ v1: 3 });
    expect(result.weekly.get("retrain")?.map((t) => t.requests)).toEqual([1, 1, 1]);
  });
});

describe("the weekly retrain's record", () => {
  const store = {} as Store;
  const end: WeekEnd = { week: 2, at: T0, liveRatings: 42 };
  const checks = [
    { name: "holdout", users: 10, candidate: 0.3, served: 0.31, delta: -0.01, ok: false },
    { name: "recent", users: 0, candidate: null, served: null, delta: null, ok: true },
  ];

  it("records a refusal with the gate's checks and leaves the served version", async () => {
    const arm = memoryArm([1]);
    const outcome: RetrainOutcome = { kind: "refused", candidate: "c", served: "v1", verdict: { publish: false, tolerance: 0.0046, lines: [], checks } };
    const rec = await retrainAtWeekEnd(end, { store, artifacts: "unused", client: arm.client, run: async () => outcome });
    expect(rec).toMatchObject({ week: 2, live_ratings: 42, decision: "refused", candidate: "c", served_before: "v1", tolerance: 0.0046 });
    expect(rec.checks[0]).toMatchObject({ name: "holdout", ok: false, delta: -0.01 });
    expect(rec.why).toBe("holdout (10 users): NDCG@10 0.3000 against 0.3100, delta -0.0100 below -0.0046");
    expect(rec.at).toBe(new Date(T0 * 1000).toISOString());
  });

  it("waits until the arm's Worker serves a published candidate, and fails when it never does", async () => {
    const arm = memoryArm([1]);
    const outcome: RetrainOutcome = { kind: "published", candidate: "c2", served: "v1", verdict: null };
    setTimeout(() => arm.serve("c2"), 300);
    const rec = await retrainAtWeekEnd(end, { store, artifacts: "unused", client: arm.client, run: async () => outcome });
    expect(rec.decision).toBe("published");
    expect(rec.why).toBe("nothing was served to compare with");
    expect(await arm.client.version()).toBe("c2");
    const stuck = memoryArm([1]);
    await expect(retrainAtWeekEnd(end, { store, artifacts: "unused", client: stuck.client, run: async () => outcome, pickupTimeoutMs: 100 })).rejects.toThrow(
      /still serves v1/,
    );
  });
});

describe("replay.json", () => {
  it("holds each arm's HR@10 and NDCG@10, events, users, weeks, the week ends and the online metrics, written whole", async () => {
    const after = tinyStream();
    const arms = (["frozen", "live", "retrain"] as ArmName[]).map((name) => ({
      name,
      client: memoryArm([100, 101, 102]).client,
      takesRatings: name !== "frozen",
    }));
    const result = await drive(arms, { k: 10, after, chosen: new Set([1, 2, 3]), weekEnds: [] });
    const online = Object.fromEntries(await Promise.all(arms.map(async (a) => [a.name, await a.client.metrics(0)] as const)));
    const report = buildReport({
      dataset: "tiny",
      restriction: null,
      cut: { percentile: 80, date: "1998-01-01", before: 0, after: after.length, newUsersAfter: 3 },
      sample: "3 of 21",
      model: "ease",
      serves: { frozen: "ease", live: "ease", retrain: "ease" },
      drive: result,
      weeks: weeksSpanned(T0, after[after.length - 1].timestamp),
      weekEnds: [],
      online,
      easeFoldIn: null,
      seconds: { seconds: 1 },
    });
    const dir = mkdtempSync(join(tmpdir(), "replay-json-"));
    const file = join(dir, "replay", "replay.json");
    writeReport(file, report);
    expect(readdirSync(join(dir, "replay"))).toEqual(["replay.json"]);
    const json = JSON.parse(readFileSync(file, "utf8"));
    for (const arm of ["frozen", "live", "retrain"]) {
      expect(json[arm]).toMatchObject({ requests: 3, "hr@10": expect.any(Number), "ndcg@10": expect.any(Number) });
      expect(json.online[arm]).toEqual([expect.objectContaining({ lists: 3, impressions: expect.any(Number) })]);
    }
    // the stream's user 2 rated 101 on day 1 after seeing [100, 101, 102]: a hit at rank 2 for every arm
    expect(json.frozen["hr@10"]).toBeGreaterThan(0);
    expect(json).toMatchObject({ bench: "replay", events: 3, users: 2, weeks: 3, retrains: [], published: 0, refused: 0 });
    expect(json.ease).toEqual({ frozen: json.frozen, live: json.live, retrain: json.retrain });
    expect(json.by_week.live).toEqual([{ week: 1, requests: 3, "hr@10": json.live["hr@10"], "ndcg@10": json.live["ndcg@10"] }]);
  });
});
