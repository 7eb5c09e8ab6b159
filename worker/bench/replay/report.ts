// artifacts/replay/replay.json: the three arms' HR@10 and NDCG@10 over the same replayed ratings,
// the stream's size (events, users, weeks), the retraining arm's week ends (published or
// refused, and why), and the online metrics each arm's Worker reported (GET /admin/metrics).
// Written whole or not at all (temp file, then rename).
import { writeFileAtomic } from "../../../training/src/util/fs-atomic.ts";
import { ARM_NAMES, type ArmName, type DriveResult, type Tally } from "./drive.ts";
import type { WeekRecord } from "./weekly-retrain.ts";

export interface ReportInput {
  dataset: string;
  /** How the dataset was restricted before the cut (ML-1M: the ratings with known times), or null. */
  restriction: { rule: string; kept: number; dropped: number } | null;
  /** `after`: the later ratings replayed (all of them, or those of the first `weeksReplayed` weeks). */
  cut: { percentile: number; date: string; before: number; after: number; newUsersAfter: number; weeksReplayed?: number | null };
  sample: string;
  model: string;
  /** Which model each arm serves, in words. */
  serves: Record<ArmName, string>;
  drive: DriveResult;
  weeks: number;
  weekEnds: readonly WeekRecord[];
  /** GET /admin/metrics' `arms` of each arm's Worker over the run. */
  online: Partial<Record<ArmName, unknown[]>>;
  easeFoldIn: { frozen: Tally; live: Tally } | null;
  extra?: Record<string, unknown>;
  seconds: Record<string, number>;
}

export function buildReport(r: ReportInput): Record<string, unknown> {
  const arms = Object.fromEntries(
    ARM_NAMES.flatMap((name) => {
      const t = r.drive.tallies.get(name);
      if (!t) return [];
      return [[name, { ...t.json(), served_by: Object.fromEntries(r.drive.servedBy.get(name) ?? []) }]];
    }),
  );
  const requests = ARM_NAMES.map((n) => r.drive.tallies.get(n)?.requests).find((x) => x !== undefined) ?? 0;
  return {
    bench: "replay",
    dataset: r.dataset,
    restriction: r.restriction,
    cut: {
      percentile: r.cut.percentile,
      date: r.cut.date,
      before: r.cut.before,
      after: r.cut.after,
      new_users_after: r.cut.newUsersAfter,
      weeks_replayed: r.cut.weeksReplayed ?? "all",
    },
    events: requests,
    sample: r.sample,
    users: r.drive.users,
    weeks: r.weeks,
    ratings_posted: r.drive.ratingsPosted,
    model: r.model,
    serves: r.serves,
    ...arms,
    // HR@10 and NDCG@10 of the lists asked for in each simulated week after the cut (the
    // retrain arm's week n+1 is served by what week n's end published)
    by_week: Object.fromEntries(
      ARM_NAMES.flatMap((name) => {
        const weeks = r.drive.weekly.get(name);
        if (!weeks) return [];
        return [[name, weeks.map((t, i) => ({ week: i + 1, requests: t.requests, "hr@10": t.json()["hr@10"], "ndcg@10": t.json()["ndcg@10"] }))]];
      }),
    ),
    retrains: r.weekEnds,
    published: r.weekEnds.filter((w) => w.decision === "published").length,
    refused: r.weekEnds.filter((w) => w.decision === "refused").length,
    // the served model's figures under its own name too (what bench:replay printed before the arms)
    [r.model]: arms,
    ease_foldin: r.easeFoldIn ? { frozen: r.easeFoldIn.frozen.json(), live: r.easeFoldIn.live.json() } : null,
    online: r.online,
    ...r.extra,
    ...r.seconds,
  };
}

export function writeReport(path: string, report: Record<string, unknown>): void {
  writeFileAtomic(path, `${JSON.stringify(report, null, 2)}\n`);
}
