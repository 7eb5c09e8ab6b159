// A user's live state (live ratings and dismissed movies, and whether they asked to be forgotten) kept in the
// location's Cache API, so a known user's recommendation in a warm location makes no D1 round
// trip at all (docs/edge.md). An entry records the D1 bookmark it was read (or written) at:
// - a request that brings a bookmark uses an entry only when the entry is at least that fresh,
//   so read-your-writes holds exactly as with D1's sessions;
// - a request without one (no recent writes) uses any entry younger than
//   USER_STATE_CACHE_SECONDS: what a replica that lags by at most that long would answer.
// A write through this location stores the state it committed, read in the same D1 batch (one
// round trip, one transaction), so the writer's next read is served here; a write elsewhere
// reaches this location's bookmark-less readers within USER_STATE_CACHE_SECONDS.
import { type LiveRating, guarded, liveHistoryQuery } from "../live-store.ts";
import { forgottenQuery } from "../security/forget.ts";
import { newer } from "./bookmark.ts";
import { type RequestDatabase, requestDatabase } from "./session.ts";

export interface UserState {
  live: LiveRating[];
  forgotten: boolean;
}

interface Entry extends UserState {
  bookmark: string | null;
}

interface Row {
  movie_id: number;
  rating: number | null;
  rated_at: number;
}

const KEY_PATH = "/__edgerec/user-state/v1/";

function cacheOf(): Cache | null {
  return typeof caches === "undefined" ? null : (caches as unknown as { default: Cache }).default;
}

function key(db: RequestDatabase, userId: number): Request {
  return new Request(`${db.userState.origin}${KEY_PATH}${userId}`);
}

/** The statements that read a user's state, to run after (and in the same batch as) a write. */
export function userStateQueries(db: D1Database, userId: number): D1PreparedStatement[] {
  return [liveHistoryQuery(db, userId), forgottenQuery(db, userId)];
}

/** The state from those two statements' results. */
export function userStateFrom(live: D1Result, forgotten: D1Result): UserState {
  return {
    live: (live.results as unknown as Row[]).map((r) => ({ movieId: r.movie_id, rating: r.rating, timestamp: r.rated_at })),
    forgotten: forgotten.results.length > 0,
  };
}

async function cached(db: RequestDatabase, userId: number): Promise<Entry | null> {
  const cache = cacheOf();
  if (!cache || db.userState.seconds === 0) return null;
  const hit = await cache.match(key(db, userId));
  if (!hit) return null;
  const entry = await hit.json<Entry>();
  // a request after a write needs a copy at least as fresh as its bookmark
  if (db.from !== null && (entry.bookmark === null || entry.bookmark < db.from)) return null;
  return entry;
}

/** Users whose state a request stored after its write (the others it wrote for are dropped: index.ts). */
const stored = new WeakMap<RequestDatabase, Set<number>>();

export function storedUserStates(db: RequestDatabase): ReadonlySet<number> {
  return stored.get(db) ?? new Set();
}

/** Stores the state as of the session's current bookmark (awaited by writes, so their next read finds it). */
export async function rememberUserState(db: D1Database, userId: number, state: UserState): Promise<void> {
  const request = requestDatabase(db);
  const cache = cacheOf();
  if (!request || !cache || request.userState.seconds === 0) return;
  if (request.wrote) stored.set(request, (stored.get(request) ?? new Set()).add(userId));
  const entry: Entry = { ...state, bookmark: newer(request.from, request.bookmark()) };
  await cache.put(
    key(request, userId),
    new Response(JSON.stringify(entry), { headers: { "content-type": "application/json", "cache-control": `max-age=${request.userState.seconds}` } }),
  );
}

/** Drops this location's entry (a write that did not say what it left). */
export async function forgetUserState(db: D1Database, userId: number): Promise<void> {
  const request = requestDatabase(db);
  const cache = cacheOf();
  if (request && cache && request.userState.seconds > 0) await cache.delete(key(request, userId));
}

/**
 * The user's live state: this location's cache when fresh enough, else one D1 batch through the
 * request's session (then cached). Throws the live store's 503 when D1 cannot be read.
 */
export async function readUserState(db: D1Database, userId: number): Promise<UserState> {
  const request = requestDatabase(db);
  const hit = request ? await cached(request, userId).catch(() => null) : null;
  if (hit) return { live: hit.live, forgotten: hit.forgotten };
  const state = await guarded(async () => {
    const [live, forgotten] = await db.batch(userStateQueries(db, userId));
    return userStateFrom(live, forgotten);
  });
  // not awaited: the answer does not wait for the cache (a lost put costs the next request a read)
  rememberUserState(db, userId, state).catch(() => {});
  return state;
}
