// The record of each list served (docs/loop.md): written to D1 after the answer has gone
// (waitUntil), so it adds nothing to the response's latency, and a failed write loses rows of
// metrics, never an answer. Lists served close together are written together: the first list of
// a batch waits COALESCE_MS for others, then one INSERT writes them all (a D1 write per list
// competed with the next requests' D1 reads: under `wrangler dev` on a busy 2-core machine it
// cost ~1.6 ms of CPU a list and a quarter of a known user's p50; docs/serving.md#speed). Old
// rows of the loop's tables are deleted here too, at most once an hour per isolate, after a write.
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

function hasExecutionContext(c: Context<AppEnv>): boolean {
  try {
    return c.executionCtx !== undefined;
  } catch {
    return false;
  }
}

/** How long the first list of a batch waits for others to join it before the batch is written. */
export const COALESCE_MS = 100;
/** Most lists one INSERT writes (its JSON parameter stays far below D1's statement size limit). */
export const MAX_BATCH = 50;

/** served's columns, in the order of a batch row. */
type ServedRow = [string, number | null, string | null, string, string, 0 | 1, number, string | null, number];

interface Batch {
  rows: ServedRow[];
  /** Ends the wait early (the batch is full). */
  flush: () => void;
}

/** The batch still taking lists, per database binding (tests run several). */
const open = new WeakMap<D1Database, Batch>();

/**
 * Records a served list. The request that opens a batch writes it, after COALESCE_MS or once it
 * is full, within its own waitUntil; a list served meanwhile joins that batch and its request has
 * nothing left to do. The batch is written by the first request's binding: the same database.
 */
export function recordList(c: Context<AppEnv>, list: ServedList, now: number): void {
  const env = c.env;
  const sample = loopSettings(env).listSample;
  const keepMovies = sample >= 1 || Math.random() < sample;
  const row: ServedRow = [
    list.recId,
    list.userId,
    list.experiment,
    list.arm,
    list.model,
    list.newUser ? 1 : 0,
    list.movies.length,
    keepMovies ? JSON.stringify(list.movies) : null,
    now,
  ];
  // batches are per database, not per request: a request's D1 session (edge/session.ts) is its own
  // object, and the write happens after the answer, so it needs no bookmark of the request's
  const db = baseDatabase(env.DB);
  if (!hasExecutionContext(c)) {
    // no waitUntil to hold a batch open (app.request in tests): written at once, on its own, so
    // no write outlives the request's context by the batch's wait
    afterResponse(
      c,
      writeServed(db, [row]).then(() => pruneIfDue(env, now)),
    );
    return;
  }
  const joined = open.get(db);
  if (joined) {
    joined.rows.push(row);
    if (joined.rows.length >= MAX_BATCH) joined.flush();
    return;
  }
  const batch: Batch = { rows: [row], flush: () => {} };
  open.set(db, batch);
  afterResponse(c, writeBatch(env, db, batch, now));
}

async function writeBatch(env: Env, db: D1Database, batch: Batch, now: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, COALESCE_MS);
    batch.flush = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  // lists served from now on open the next batch
  if (open.get(db) === batch) open.delete(db);
  await writeServed(db, batch.rows);
  await pruneIfDue(env, now);
}

/** One INSERT for the rows (all or nothing), idempotent by rec_id; they travel as one JSON parameter (D1 binds at most 100 a statement). */
export async function writeServed(db: D1Database, rows: readonly ServedRow[]): Promise<void> {
  await db
    .prepare(
      `INSERT INTO served (rec_id, user_id, experiment, arm, model, new_user, shown, movies, served_at)
       SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'),
              json_extract(value, '$[4]'), json_extract(value, '$[5]'), json_extract(value, '$[6]'), json_extract(value, '$[7]'),
              json_extract(value, '$[8]')
       FROM json_each(?1) WHERE true
       ON CONFLICT (rec_id) DO NOTHING`,
    )
    .bind(JSON.stringify(rows))
    .run();
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
