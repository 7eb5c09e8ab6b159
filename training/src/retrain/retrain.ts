// The retraining loop, once: read what D1 recorded since the model was trained, train a candidate
// on the original train split plus the live ratings (forgotten users left out), score the
// candidate and the served model on the same two checks, and publish only when the gate passes;
// every publish is recorded in D1 (model_publishes). Nothing here exits: the CLI maps the
// outcome to an exit status (3: refused by the gate).
import { join } from "node:path";
import type { IdMaps, Manifest } from "../contract/artifacts.ts";
import { BUNDLE_FILES, modelDir } from "../contract/artifacts.ts";
import { exportBundle, versionFor } from "../export/bundle.ts";
import type { TrainedState } from "../export/model-state.ts";
import { modelFactory } from "../models/registry.ts";
import { readSplit } from "../pipeline/split-files.ts";
import { trainModel } from "../pipeline/train-model.ts";
import { publishBundle } from "../publish/publish.ts";
import { readBundle } from "../publish/read-bundle.ts";
import { type Verdict, judge } from "./gate.ts";
import { readForgotten, readLiveMovies, readLiveRatings } from "./live-data.ts";
import { type Merged, mergeLive } from "./merge.ts";
import { recordStatement } from "./records.ts";
import { type BundleFiles, commonUsers, idsOf, scoreBundle } from "./score.ts";
import { type Store, bundleFromR2, readPointer } from "./store.ts";

export const DEFAULT_MODEL = "lightgcn";
export const DEFAULT_RECENT_SHARE = 0.1;
/** The exit status of a candidate the gate refused: the served version is untouched. */
export const REFUSED_EXIT = 3;

export interface RetrainOptions {
  artifacts: string;
  /** The candidate's model (default: the served version's, else lightgcn). */
  model?: string;
  tolerance: number;
  recentShare: number;
  dryRun: boolean;
  actor: string;
  log?: (line: string) => void;
  /** Trains and exports the candidate into `dir`/<model>/ (tests pass a small one). */
  train?: (model: string, merged: Merged, dir: string) => Promise<Manifest>;
}

export interface DryRun {
  live_ratings: number;
  deleted_users: number;
  window: Merged["window"];
  live_trained: number;
  live_recent: number;
  live_skipped: number;
  /** Movies of the live catalogue joining the model (docs/catalogue.md). */
  live_movies: number;
  users_removed: number;
  train: number;
  served: string | null;
}

/** The CLI's exit status: 0 published (or a dry run), 3 refused by the gate with the served version untouched. */
export function exitStatusOf(outcome: RetrainOutcome): number {
  return outcome.kind === "refused" ? REFUSED_EXIT : 0;
}

export type RetrainOutcome =
  | { kind: "dry-run"; summary: DryRun }
  | { kind: "refused"; candidate: string; served: string; verdict: Verdict }
  | { kind: "published"; candidate: string; served: string | null; verdict: Verdict | null };

/** The default: the pipeline's own training and export, on the merged split (no tuning grid beyond the model's). */
async function trainCandidate(model: string, merged: Merged, dir: string, log: (line: string) => void): Promise<Manifest> {
  const kept: { state?: TrainedState } = {};
  const metrics = await trainModel(modelFactory(model), merged.split, { artifactsDir: dir, log, onState: (s) => (kept.state = s) });
  if (!kept.state || !metrics.recs) throw new Error(`${model} has no serving graph: choose an exportable model (--model lightgcn, ease, blend, ...)`);
  return exportBundle(metrics, kept.state, { split: merged.split, catalogue: merged.catalogue }, dir, { log, version: versionFor(model) });
}

export async function retrain(store: Store, opts: RetrainOptions): Promise<RetrainOutcome> {
  const log = opts.log ?? (() => {});
  const [live, forgotten, movies] = [await readLiveRatings(store.query), await readForgotten(store.query), await readLiveMovies(store.query)];
  log(`${store.describe}: ${live.length} live ratings, ${forgotten.length} forgotten users, ${movies.length} movies in the live catalogue`);
  // the live catalogue's rated movies join the model (docs/catalogue.md)
  const merged = mergeLive(readSplit(opts.artifacts), live, forgotten, { recentShare: opts.recentShare }, movies);
  const target = await store.openTarget();
  try {
    const pointer = await readPointer(target);
    if (opts.dryRun) {
      const c = merged.counts;
      return {
        kind: "dry-run",
        summary: {
          live_ratings: c.live_ratings,
          deleted_users: c.deleted_users,
          window: merged.window,
          live_trained: c.live_trained,
          live_recent: c.live_recent,
          live_skipped: c.live_skipped,
          live_movies: c.live_movies,
          users_removed: c.users_removed,
          train: merged.split.counts.train,
          served: pointer?.version || null,
        },
      };
    }
    const served: BundleFiles | null = pointer?.version
      ? await bundleFromR2(target, pointer.version, [BUNDLE_FILES.model, BUNDLE_FILES.ids, BUNDLE_FILES.manifest])
      : null;
    const model = opts.model ?? served?.manifest.model ?? DEFAULT_MODEL;
    const dir = join(opts.artifacts, "retrain");
    log(`training the candidate ${model} on ${merged.split.counts.train} train interactions (${merged.counts.live_trained} of them live)`);
    const manifest = await (opts.train ? opts.train(model, merged, dir) : trainCandidate(model, merged, dir, log));
    const bundle = readBundle(join(dir, modelDir(manifest.model)));
    let verdict: Verdict | null = null;
    if (served) {
      const a: IdMaps = idsOf(bundle);
      const b: IdMaps = idsOf(served);
      const holdout = commonUsers(merged.holdout, a, b);
      const recent = commonUsers(merged.recent, a, b);
      log(
        `scoring ${manifest.version} and the served ${served.manifest.version}: ${holdout.users.length} holdout users, ${recent.users.length} with recent live ratings`,
      );
      const score = async (set: typeof holdout) =>
        set.users.length ? { candidate: await scoreBundle(bundle, set), served: await scoreBundle(served, set) } : { candidate: null, served: null };
      verdict = judge(
        [
          { name: "holdout", users: holdout.users.length, ...(await score(holdout)) },
          { name: "recent", users: recent.users.length, ...(await score(recent)) },
        ],
        opts.tolerance,
      );
      for (const line of verdict.lines) log(line);
      if (!verdict.publish) return { kind: "refused", candidate: manifest.version, served: served.manifest.version, verdict };
    }
    await store.migrate();
    if (!target.snapshots) throw new Error(`${target.describe} has no D1 beside it to record the publish in; nothing was published`);
    const result = await publishBundle(bundle, target, { log });
    await target.snapshots.execute([
      recordStatement({
        version: result.pointer.version,
        action: "publish",
        previous: served?.manifest.version ?? null,
        metrics: { candidate: Object.fromEntries((verdict?.checks ?? []).map((c) => [c.name, c])), test: manifest.metrics },
        window: { ...merged.window, live_trained: merged.counts.live_trained, deleted_users: merged.counts.deleted_users },
        actor: opts.actor,
        at: Date.now(),
      }),
    ]);
    return { kind: "published", candidate: manifest.version, served: served?.manifest.version ?? null, verdict };
  } finally {
    await target.close();
  }
}
