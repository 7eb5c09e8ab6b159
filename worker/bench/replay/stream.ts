// The replayed stream: a dataset's ratings in time order (training/src/data/time-order.ts), cut
// at a percentile of their times (train before, replay after), the sample of later ratings that
// get a list, and the simulated weeks after the cut at whose ends the `retrain` arm retrains. Pure functions: the replay's
// driver and its tests share them.
import type { Rating } from "../../../training/src/data/time-order.ts";
import { Rng } from "../../../training/src/util/rng.ts";

export const WEEK_SECONDS = 7 * 24 * 3600;

/**
 * Only the ratings whose time is known. This machine's ML-1M copy keeps the original timestamps
 * of users 1-2999 and of ten ratings of each later user, and 0 ("unknown") for the rest
 * (/work/shared/datasets/PROVENANCE.md): ordering those by time would be meaningless, so they are
 * left out of both sides of the cut. A complete copy loses nothing here.
 */
export function withKnownTimes(events: readonly Rating[]): { kept: Rating[]; dropped: number } {
  const kept = events.filter((e) => e.timestamp > 0);
  return { kept, dropped: events.length - kept.length };
}

export interface Cut {
  /** Unix seconds: ratings at or after it are replayed. */
  time: number;
  before: Rating[];
  after: Rating[];
}

/** Cuts time-ordered ratings at the time of the `percentile`-th percentile rating. */
export function cutAt(events: readonly Rating[], percentile: number): Cut {
  if (events.length === 0) throw new Error("no ratings to cut: the dataset (after leaving out unknown times) is empty");
  if (!(percentile > 0 && percentile < 100)) throw new Error(`--cut must be a percentile between 1 and 99, got ${percentile}`);
  const time = events[Math.min(events.length - 1, Math.floor((events.length * percentile) / 100))].timestamp;
  return { time, before: events.filter((e) => e.timestamp < time), after: events.filter((e) => e.timestamp >= time) };
}

/** Indices of the later ratings that get a list: all (`count` 0 or at least `n`), else a seeded uniform sample. */
export function sampleIndices(n: number, count: number, seed: number): Set<number> {
  const chosen = new Set<number>();
  if (count === 0 || count >= n) {
    for (let i = 0; i < n; i++) chosen.add(i);
    return chosen;
  }
  const rng = new Rng(seed);
  while (chosen.size < count) chosen.add(rng.int(n));
  return chosen;
}

/**
 * The simulated week ends after the cut at which the `retrain` arm retrains: cut + 1 week,
 * cut + 2 weeks, ... up to the last replayed rating (a week end after it would retrain a model
 * nothing is asked of). The retrain at a week end sees every rating before it.
 */
export function weekEnds(cutTime: number, lastTime: number, weekSeconds = WEEK_SECONDS): number[] {
  const ends: number[] = [];
  for (let t = cutTime + weekSeconds; t <= lastTime; t += weekSeconds) ends.push(t);
  return ends;
}

/** The simulated weeks the replay spans: whole or partial weeks from the cut to the last rating. */
export function weeksSpanned(cutTime: number, lastTime: number, weekSeconds = WEEK_SECONDS): number {
  return Math.floor((lastTime - cutTime) / weekSeconds) + 1;
}
