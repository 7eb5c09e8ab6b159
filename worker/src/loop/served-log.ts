// The record of each list served (docs/loop.md): written to D1 after the answer has gone
// (waitUntil), so it adds nothing to the response's latency, and a failed write loses one row of
// metrics, never an answer. Old rows of the loop's tables are deleted here too, at most once an
// hour per isolate, after a write.
import type { Context } from "hono";
import type { AppEnv, Env } from "../env.ts";
import { baseDatabase } from "../edge/session.ts";
import { log } from "../log.ts";
import { loopSettings } from "./settings.ts";

export interface ServedList {
  recId: string;
  userId: number | null;
  experiment: string | null;
  arm: string;
  model: string;
  newUser: boolean;
  movies: number[];
}

const PRUNE_EVERY_MS = 3600_000;
const lastPruned = new WeakMap<D1Database, number>();

/** Runs work after the response: with the request's waitUntil, or detached when there is none (app.request in tests). */
export function afterResponse(c: Context<AppEnv>, work: Promise<unknown>): void {
  const guarded = work.catch((err: unknown) => log.warn("loop: a write after the response failed", err));
  try {
    c.executionCtx.waitUntil(guarded);
  } catch {
    // no ExecutionContext: the promise runs on by itself
  }
}

export async function writeServed(env: Env, list: ServedList, now: number): Promise<void> {
  const settings = loopSettings(env);
  const keepMovies = settings.listSample >= 1 || Math.random() < settings.listSample;
  await env.DB.prepare(
    `INSERT INTO served (rec_id, user_id, experiment, arm, model, new_user, shown, movies, served_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (rec_id) DO NOTHING`,
  )
    .bind(
      list.recId,
      list.userId,
      list.experiment,
      list.arm,
      list.model,
      list.newUser ? 1 : 0,
      list.movies.length,
      keepMovies ? JSON.stringify(list.movies) : null,
      now,
    )
    .run();
  await pruneIfDue(env, now);
}

/** Deletes served lists and events older than LOOP_RETENTION_DAYS, at most once an hour per isolate. */
export async function pruneIfDue(env: Env, now: number): Promise<void> {
  const last = lastPruned.get(baseDatabase(env.DB)) ?? 0;
  if (Date.now() - last < PRUNE_EVERY_MS) return;
  lastPruned.set(baseDatabase(env.DB), Date.now());
  await pruneOlderThan(env.DB, now - loopSettings(env).retentionDays * 86400);
}

export async function pruneOlderThan(db: D1Database, cutoff: number): Promise<void> {
  await db.batch([db.prepare("DELETE FROM served WHERE served_at < ?1").bind(cutoff), db.prepare("DELETE FROM events WHERE received_at < ?1").bind(cutoff)]);
}
