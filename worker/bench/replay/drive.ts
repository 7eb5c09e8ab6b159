// The replay itself, against any set of arms (the bench's Workers over HTTP; the tests' in-memory
// fakes): the later ratings in time order; before a sampled rating, each arm's list for that
// user (k movies), a hit when the rated movie is in it, the list's impressions posted; then the
// rating itself posted to the arms that take live ratings. At each simulated week end the
// `retrain` hook runs first, with every earlier rating already in the arm's D1.
//
// Every later rating is posted, sampled or not, and in time order: the ratings since the last
// list go out (one request per user) just before the next list is asked for, before every week
// end's retrain, and at the end. So each list, and each retrain, sees exactly the ratings before
// it, and the D1's rated_at (the Worker's clock at the POST) keeps the stream's order up to the
// few ratings between two lists: the retrain's "recent" check (the newest live positives by
// rated_at) is then the stream's newest ratings.
import type { ArmClient } from "./arm-client.ts";
import type { Rating } from "../../../training/src/data/time-order.ts";

export type ArmName = "frozen" | "live" | "retrain";
export const ARM_NAMES: readonly ArmName[] = ["frozen", "live", "retrain"];

export interface Arm {
  name: ArmName;
  client: ArmClient;
  /** Whether the arm's Worker gets the live ratings (frozen does not: the snapshot alone). */
  takesRatings: boolean;
}

/** A hit's NDCG@k with one relevant movie: 1 / log2(rank + 2). */
export const gain = (rank: number): number => (rank < 0 ? 0 : 1 / Math.log2(rank + 2));

const round4 = (x: number): number => Math.round(x * 10_000) / 10_000;

export class Tally {
  requests = 0;
  hits = 0;
  ndcg = 0;
  coldStart = 0;
  foldIn = 0;
  ignored = 0;
  add(ranked: readonly number[], movie: number): void {
    this.requests++;
    const rank = ranked.indexOf(movie);
    if (rank >= 0) this.hits++;
    this.ndcg += gain(rank);
  }
  json(): { requests: number; "hr@10": number; "ndcg@10": number; cold_start: number; fold_in: number; ignored_entries: number } {
    return {
      requests: this.requests,
      "hr@10": round4(this.hits / Math.max(1, this.requests)),
      "ndcg@10": round4(this.ndcg / Math.max(1, this.requests)),
      cold_start: this.coldStart,
      fold_in: this.foldIn,
      ignored_entries: this.ignored,
    };
  }
}

export interface WeekEnd {
  /** 1-based: the end of the first simulated week after the cut is week 1. */
  week: number;
  /** The simulated time of the week end (unix seconds). */
  at: number;
  /** Ratings posted to the retraining arm before this week end (all of them since the cut). */
  liveRatings: number;
}

export interface DriveOptions {
  k: number;
  /** The later ratings, in time order. */
  after: readonly Rating[];
  /** Indices into `after` that get a list. */
  chosen: ReadonlySet<number>;
  /** Simulated week ends (unix seconds, ascending); `onWeekEnd` runs at each. */
  weekEnds: readonly number[];
  onWeekEnd?: (end: WeekEnd) => Promise<void>;
  /**
   * Seconds added to the stream's times for everything posted (ratings' `timestamp`, impressions'
   * `ts`): the replay moves the stream into the weeks just before it runs, so times stay in their
   * order and spacing (recency, retrain's window), none is in the future (refused), and an
   * impression and the rating that follows it fall in one conversion window.
   */
  shift?: number;
  /** Progress, once in a while. */
  log?: (line: string) => void;
}

export interface DriveResult {
  tallies: Map<ArmName, Tally>;
  /** The same per simulated week after the cut (index 0: the first week), so a retrained version's weeks compare with the live arm's. */
  weekly: Map<ArmName, Tally[]>;
  /** Lists per arm per serving version (the retraining arm's move to each published version shows here). */
  servedBy: Map<ArmName, Map<string, number>>;
  /** Distinct users among the sampled ratings. */
  users: number;
  ratingsPosted: number;
}

export async function drive(arms: readonly Arm[], opts: DriveOptions): Promise<DriveResult> {
  const shift = opts.shift ?? 0;
  const tallies = new Map(arms.map((a) => [a.name, new Tally()]));
  const weekly = new Map(arms.map((a) => [a.name, [] as Tally[]]));
  const servedBy = new Map(arms.map((a) => [a.name, new Map<string, number>()]));
  const posting = arms.filter((a) => a.takesRatings);
  // ratings not yet posted, by user (the same for every posting arm: they all get the same stream)
  const pending = new Map<number, { movieId: number; rating: number; timestamp: number }[]>();
  let posted = 0;
  const flushUser = async (user: number): Promise<void> => {
    const entries = pending.get(user);
    if (!entries) return;
    pending.delete(user);
    await Promise.all(posting.map((a) => a.client.rate(user, entries)));
    posted += entries.length;
  };
  const flushAll = async (): Promise<void> => {
    for (const user of [...pending.keys()]) await flushUser(user);
  };
  const users = new Set<number>();
  let nextWeek = 0;
  for (const [n, e] of opts.after.entries()) {
    while (nextWeek < opts.weekEnds.length && opts.weekEnds[nextWeek] <= e.timestamp) {
      await flushAll();
      await opts.onWeekEnd?.({ week: nextWeek + 1, at: opts.weekEnds[nextWeek], liveRatings: posted });
      nextWeek++;
    }
    if (opts.chosen.has(n)) {
      users.add(e.user);
      await flushAll();
      const answers = await Promise.all(
        arms.map(async (a) => {
          const list = await a.client.recs(e.user, opts.k);
          await a.client.impressions(e.user, list.recId, list.ranked, e.timestamp + shift);
          return [a.name, list] as const;
        }),
      );
      for (const [name, list] of answers) {
        const tally = tallies.get(name) as Tally;
        tally.add(list.ranked, e.movie);
        const weeks = weekly.get(name) as Tally[];
        while (weeks.length <= nextWeek) weeks.push(new Tally());
        weeks[nextWeek].add(list.ranked, e.movie);
        if (list.source === "popular") tally.coldStart++;
        if (list.source === "fold-in") tally.foldIn++;
        tally.ignored += list.ignored;
        const versions = servedBy.get(name) as Map<string, number>;
        versions.set(list.model, (versions.get(list.model) ?? 0) + 1);
      }
      const done = tallies.get(arms[0].name)?.requests ?? 0;
      if (done % 1000 === 0) opts.log?.(`replayed ${done} of ${opts.chosen.size} sampled ratings`);
    }
    if (posting.length > 0) {
      const entries = pending.get(e.user);
      // with the rating's own time: the Worker folds a history in oldest first by it (recency), and
      // retrain's data window and recent check read it (posted without it, every rating of a flush
      // would share the posting second)
      const entry = { movieId: e.movie, rating: e.rating, timestamp: e.timestamp + shift };
      if (entries) entries.push(entry);
      else pending.set(e.user, [entry]);
    }
  }
  await flushAll();
  return { tallies, weekly, servedBy, users: users.size, ratingsPosted: posted };
}
