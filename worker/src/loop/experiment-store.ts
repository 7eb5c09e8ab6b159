// The A/B experiment, kept in D1 (one row) so that changing it needs no deploy; each isolate
// reuses what it read for LOOP_EXPERIMENT_CACHE_SECONDS. Reading it never fails a
// recommendation: with D1 down, lists are served as if no experiment ran (and say so: arm "default").
import { BUNDLE_FILES, r2Key } from "../../../training/src/contract/artifacts.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { baseDatabase } from "../edge/session.ts";
import { log } from "../log.ts";
import type { Experiment } from "./assign.ts";
import { loopDb } from "./d1.ts";
import { loopSettings } from "./settings.ts";

export interface ExperimentState {
  experiment: Experiment | null;
  updatedAt: number | null;
}

/** What this isolate last read, per database binding (tests run several). */
const cached = new WeakMap<D1Database, { state: ExperimentState; at: number }>();

const NONE: ExperimentState = { experiment: null, updatedAt: null };

async function selectExperiment(db: D1Database): Promise<ExperimentState> {
  const row = await db.prepare("SELECT name, arms, updated_at FROM experiment WHERE id = 1").first<{ name: string; arms: string; updated_at: number }>();
  if (!row) return NONE;
  return { experiment: { name: row.name, arms: JSON.parse(row.arms) }, updatedAt: row.updated_at };
}

/** The experiment for the admin routes: a D1 failure answers 503. */
export function readExperiment(db: D1Database): Promise<ExperimentState> {
  return loopDb(() => selectExperiment(db));
}

/** The experiment for serving: cached per isolate; the last one known (or none) when D1 cannot say. */
export async function servingExperiment(env: Env): Promise<Experiment | null> {
  const ttlMs = 1000 * loopSettings(env).experimentCacheSeconds;
  const hit = cached.get(baseDatabase(env.DB));
  if (hit && Date.now() - hit.at < ttlMs) return hit.state.experiment;
  try {
    // one try, no retries: a recommendation does not wait on the loop
    const state = await selectExperiment(env.DB);
    cached.set(baseDatabase(env.DB), { state, at: Date.now() });
    return state.experiment;
  } catch (err) {
    log.warn("the A/B experiment could not be read from D1: serving the last one known (or none)", err);
    // tried again after the cache interval, not on every request
    cached.set(baseDatabase(env.DB), { state: hit?.state ?? NONE, at: Date.now() });
    return hit?.state.experiment ?? null;
  }
}

/** Checks what zod cannot: shares, names, pinned versions (published, at most one). */
export async function checkExperiment(env: Env, experiment: Experiment): Promise<void> {
  const bad = (message: string) => new ApiError(400, "bad_request", message);
  const total = experiment.arms.reduce((sum, a) => sum + a.share, 0);
  if (Math.abs(total - 1) > 1e-6) throw bad(`arms: the shares must add up to 1, they add up to ${Number(total.toFixed(6))}`);
  const names = new Set<string>();
  for (const [i, arm] of experiment.arms.entries()) {
    if (names.has(arm.name)) throw bad(`arms[${i}].name: "${arm.name}" is used by an earlier arm; each arm needs its own name`);
    names.add(arm.name);
  }
  const pinned = [...new Set(experiment.arms.flatMap((a) => (a.version === null ? [] : [a.version])))];
  if (pinned.length > 1)
    throw bad(
      `arms: at most one version besides the current one (the Worker holds it next to the current model), got ${pinned.join(", ")}; publish one of them as current and give its arm version null`,
    );
  // release-first swaps exist because two versions of this catalogue do not fit one isolate
  if (pinned.length > 0 && env.MODEL_SWAP === "release-first")
    throw bad(
      `arms: MODEL_SWAP is "release-first" (two versions of this catalogue do not fit one isolate), so no arm can hold a version beside the current one; publish ${pinned[0]} as current instead, or give every arm version null`,
    );
  for (const version of pinned) {
    const head = await env.MODELS.head(r2Key(version, BUNDLE_FILES.manifest));
    if (!head) throw bad(`version "${version}" is not published (no ${r2Key(version, BUNDLE_FILES.manifest)} in R2); publish it with npm run publish first`);
  }
}

export async function writeExperiment(env: Env, experiment: Experiment | null, now: number): Promise<ExperimentState> {
  const state = await loopDb(async () => {
    if (experiment === null) {
      await env.DB.prepare("DELETE FROM experiment WHERE id = 1").run();
      return NONE;
    }
    await env.DB.prepare(
      `INSERT INTO experiment (id, name, arms, updated_at) VALUES (1, ?1, ?2, ?3)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, arms = excluded.arms, updated_at = excluded.updated_at`,
    )
      .bind(experiment.name, JSON.stringify(experiment.arms), now)
      .run();
    return { experiment, updatedAt: now };
  });
  // this isolate applies it at once; the others within their cache interval
  cached.set(baseDatabase(env.DB), { state, at: Date.now() });
  return state;
}
