// The `retrain` arm's week end: the same library call `npm run retrain` makes (training/src/retrain),
// on that arm's own local D1 and R2 (its `wrangler dev --persist-to` folder), through the gate; a
// published candidate is waited for until the arm's Worker serves it, so every later list of the
// arm comes from it. Each week end leaves one record: published or refused, and why.
import { DEFAULT_TOLERANCE } from "../../../training/src/retrain/gate.ts";
import { DEFAULT_RECENT_SHARE, type RetrainOutcome, type RetrainOptions, retrain } from "../../../training/src/retrain/retrain.ts";
import type { Store } from "../../../training/src/retrain/store.ts";
import type { ArmClient } from "./arm-client.ts";
import type { WeekEnd } from "./drive.ts";

export interface WeekRecord {
  week: number;
  /** The simulated week end, ISO. */
  at: string;
  /** Live ratings in the arm's D1 when it retrained. */
  live_ratings: number;
  decision: "published" | "refused";
  /** Why, in words: the checks that failed, or that all passed. */
  why: string;
  candidate: string;
  /** The version served before (null: none was). */
  served_before: string | null;
  /** The gate's checks: NDCG@10 of the candidate and the served model on the same users. */
  checks: { name: string; users: number; candidate: number | null; served: number | null; delta: number | null; ok: boolean }[];
  tolerance: number | null;
  /** Wall seconds: training, scoring, publishing and the Worker picking the new version up. */
  seconds: number;
}

export interface WeeklyRetrainOptions {
  store: Store;
  /** The folder holding split/ (the candidate goes to <artifacts>/retrain/). */
  artifacts: string;
  /** The arm's Worker: a published version is waited for there. */
  client: ArmClient;
  /** How long the Worker may take to serve a published version (its MODEL_REFRESH_SECONDS, plus the load). */
  pickupTimeoutMs?: number;
  log?: (line: string) => void;
  /** The retraining run (default: training/src/retrain's, as `npm run retrain` runs it). */
  run?: (store: Store, opts: RetrainOptions) => Promise<RetrainOutcome>;
}

const round4 = (x: number | null): number | null => (x === null ? null : Math.round(x * 10_000) / 10_000);

export async function retrainAtWeekEnd(end: WeekEnd, opts: WeeklyRetrainOptions): Promise<WeekRecord> {
  const t = performance.now();
  const log = opts.log ?? (() => {});
  const outcome = await (opts.run ?? retrain)(opts.store, {
    artifacts: opts.artifacts,
    tolerance: DEFAULT_TOLERANCE,
    recentShare: DEFAULT_RECENT_SHARE,
    dryRun: false,
    actor: "bench:replay",
    log,
  });
  if (outcome.kind === "dry-run") throw new Error("the weekly retrain ran as a dry run: nothing to record");
  if (outcome.kind === "published") {
    const deadline = Date.now() + (opts.pickupTimeoutMs ?? 60_000);
    for (;;) {
      const serving = await opts.client.version();
      if (serving === outcome.candidate) break;
      if (Date.now() > deadline)
        throw new Error(
          `week ${end.week}: ${outcome.candidate} was published but the retrain arm's Worker still serves ${serving} after ${(opts.pickupTimeoutMs ?? 60_000) / 1000} s`,
        );
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const verdict = outcome.verdict;
  const failed = (verdict?.checks ?? []).filter((c) => !c.ok);
  const why = !verdict
    ? "nothing was served to compare with"
    : failed.length
      ? failed
          .map(
            (c) =>
              `${c.name} (${c.users} users): NDCG@10 ${c.candidate?.toFixed(4)} against ${c.served?.toFixed(4)}, delta ${c.delta?.toFixed(4)} below -${verdict.tolerance.toFixed(4)}`,
          )
          .join("; ")
      : `every check within ${verdict.tolerance.toFixed(4)} NDCG@10 of the served model`;
  return {
    week: end.week,
    at: new Date(end.at * 1000).toISOString(),
    live_ratings: end.liveRatings,
    decision: outcome.kind,
    why,
    candidate: outcome.candidate,
    served_before: outcome.served,
    checks: (verdict?.checks ?? []).map((c) => ({ ...c, candidate: round4(c.candidate), served: round4(c.served), delta: round4(c.delta) })),
    tolerance: verdict?.tolerance ?? null,
    seconds: Math.round((performance.now() - t) / 100) / 10,
  };
}
