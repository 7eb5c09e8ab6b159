// Live ratings in D1 (worker/migrations): what users rated after the published snapshot. Every
// write is one SQL statement, so it is all-or-nothing. Reads go through the request's D1 session
// (edge/session.ts): a request that brings a write's bookmark reads a copy at least that fresh
// (read-your-writes). A write also reads the user's state back in the same batch (one round
// trip) and leaves it in the location's cache (edge/user-state.ts), where the writer's next
// read finds it.
import { ApiError } from "./errors.ts";
import { requestDatabase } from "./edge/session.ts";
import { rememberUserState, userStateFrom, userStateQueries } from "./edge/user-state.ts";
import { log } from "./log.ts";
import type { RatingEntry } from "./validation.ts";

export interface LiveRating {
  movieId: number;
  rating: number | null;
  timestamp: number;
}

interface Row {
  movie_id: number;
  rating: number | null;
  rated_at: number;
}

const toRating = (r: Row): LiveRating => ({ movieId: r.movie_id, rating: r.rating, timestamp: r.rated_at });

/** Seconds a client is told to wait before trying a refused request again. */
export const RETRY_AFTER_SECONDS = 1;

/**
 * D1 failed (unbound, overloaded, down, or still busy after the retries): the request answers
 * 503 with Retry-After and says so. A busy database committed nothing (every statement here is
 * one transaction); after a lost connection a write may or may not have landed, and sending it
 * again is safe either way (an upsert, or a delete).
 */
function storeUnavailable(err: unknown): ApiError {
  log.error("D1 error", err);
  const busy = TRANSIENT.test(String((err as Error)?.message));
  return new ApiError(
    503,
    "live_store_unavailable",
    busy
      ? `the live ratings store (D1) stayed busy (a publication may be writing to it); nothing was stored: try again in ${RETRY_AFTER_SECONDS} s`
      : `the live ratings store (D1) is not available right now; sending the same request again in ${RETRY_AFTER_SECONDS} s is safe`,
    { "retry-after": String(RETRY_AFTER_SECONDS) },
  );
}

/**
 * Failures worth another try: the ones Cloudflare's D1 docs list as retryable (a lost connection,
 * a reset object), and the local D1's when another process holds its SQLite file (`npm run
 * publish -- --local` loading a large bundle's snapshots while `wrangler dev` serves: "database
 * is locked", "Failed to get session commit token"). Every statement here may run twice: reads,
 * an upsert, deletes.
 */
const TRANSIENT =
  /Network connection lost|storage caused object to be reset|reset because its code was updated|SQLITE_BUSY|database is locked|Failed to get session commit token/i;
/** Exponential backoff, each wait jittered by +-50% so retries do not collide again. */
const RETRY_DELAYS_MS = [20, 60, 150, 400];

export async function guarded<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (attempt < RETRY_DELAYS_MS.length && TRANSIENT.test(String((err as Error)?.message))) {
        await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[attempt] * (0.5 + Math.random())));
        continue;
      }
      throw storeUnavailable(err);
    }
  }
}

/** A user's live ratings, newest first: a statement that can also join a batch. */
export function liveRatingsQuery(db: D1Database, user: number): D1PreparedStatement {
  return db.prepare("SELECT movie_id, rating, rated_at FROM ratings WHERE user_id = ?1 ORDER BY rated_at DESC, movie_id").bind(user);
}

export function liveRatings(db: D1Database, user: number): Promise<LiveRating[]> {
  return guarded(async () => (await liveRatingsQuery(db, user).all<Row>()).results.map(toRating));
}

/**
 * What a recommendation excludes of the user's live data: the live ratings, and each movie the
 * user dismissed (an event "dismiss") without rating it, as a dislike (rating 1, time 0), so it is
 * never recommended again (docs/catalogue.md). One statement: no extra round trip.
 */
export function liveHistoryQuery(db: D1Database, user: number): D1PreparedStatement {
  return db
    .prepare(
      `SELECT movie_id, rating, rated_at FROM ratings WHERE user_id = ?1
       UNION ALL
       SELECT DISTINCT movie_id, 1, 0 FROM events WHERE user_id = ?1 AND type = 'dismiss' AND movie_id NOT IN (SELECT movie_id FROM ratings WHERE user_id = ?1)
       ORDER BY rated_at DESC, movie_id`,
    )
    .bind(user);
}

export function liveHistory(db: D1Database, user: number): Promise<LiveRating[]> {
  return guarded(async () => (await liveHistoryQuery(db, user).all<Row>()).results.map(toRating));
}

/**
 * The live history (liveHistoryQuery) and, in the same batch (one round trip), another read of the
 * same database: a D1 user store's snapshot query. Fails as a whole, as the live store being unavailable.
 */
export function liveRatingsWith(db: D1Database, user: number, other: D1PreparedStatement): Promise<[LiveRating[], Record<string, unknown>[]]> {
  return guarded(async () => {
    const [live, rows] = await db.batch<Record<string, unknown>>([liveHistoryQuery(db, user), other]);
    return [(live.results as unknown as Row[]).map(toRating), rows.results];
  });
}

/**
 * Inserts or replaces the entries in one statement: the whole list travels as one JSON
 * parameter (D1 caps bound parameters at 100 per statement, and a batch of 1,000 statements
 * would count 1,000 queries), expanded by SQLite's json_each.
 */
export function putRatings(db: D1Database, user: number, entries: RatingEntry[], now: number): Promise<LiveRating[]> {
  const rows = entries.map((e) => [e.movieId, e.rating, e.timestamp ?? now]);
  const upsert = (): D1PreparedStatement =>
    db
      .prepare(
        `INSERT INTO ratings (user_id, movie_id, rating, rated_at)
         SELECT ?1, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(?2) WHERE true
         ON CONFLICT (user_id, movie_id) DO UPDATE SET rating = excluded.rating, rated_at = excluded.rated_at WHERE excluded.rated_at >= ratings.rated_at
         RETURNING movie_id, rating, rated_at`,
      )
      .bind(user, JSON.stringify(rows));
  return writeAndRemember(db, user, upsert, (r) => (r.results as unknown as Row[]).map(toRating));
}

/**
 * Runs a write of one user's ratings; within a request, in one batch with the reads of the
 * user's state that it leaves, stored in the location's cache before the answer goes.
 */
async function writeAndRemember<T>(db: D1Database, user: number, write: () => D1PreparedStatement, answer: (result: D1Result) => T): Promise<T> {
  // statements are made inside guarded: a binding that fails at prepare is the store being unavailable too
  if (!requestDatabase(db)) return guarded(async () => answer(await write().all()));
  const [result, state] = await guarded(async () => {
    const [written, live, forgotten] = await db.batch([write(), ...userStateQueries(db, user)]);
    return [answer(written), userStateFrom(live, forgotten)] as const;
  });
  // the write has committed whatever the cache does: a failed put only costs the next read a D1 round trip
  await rememberUserState(db, user, state).catch((err: unknown) => log.warn("the user's state could not be cached after a write", err));
  return result;
}

/** Deletes one live rating; true when there was one. */
export function deleteRating(db: D1Database, user: number, movieId: number): Promise<boolean> {
  return writeAndRemember(
    db,
    user,
    () => db.prepare("DELETE FROM ratings WHERE user_id = ?1 AND movie_id = ?2").bind(user, movieId),
    (r) => r.meta.changes > 0,
  );
}

/** Erases everything stored for the user; returns how many ratings were removed. */
export function deleteUser(db: D1Database, user: number): Promise<number> {
  return guarded(async () => {
    const r = await db.prepare("DELETE FROM ratings WHERE user_id = ?1").bind(user).run();
    return r.meta.changes;
  });
}
