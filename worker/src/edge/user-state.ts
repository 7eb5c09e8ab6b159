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
// In front of the location's cache, the isolate keeps the entries it read or wrote in memory, by
// the same rules: a user's next request in this isolate then waits for nothing at all (the Cache
// API is a round trip too; docs/edge.md#reads-from-the-nearest-copy-writes-visible-at-once).
import { type LiveRating, guarded, liveHistoryQuery } from "../live-store.ts";
import { forgottenQuery } from "../security/forget.ts";
import { newer } from "./bookmark.ts";
import { hasNoLiveState, noteLiveUser } from "./live-users.ts";
import { type RequestDatabase, requestDatabase } from "./session.ts";

export interface UserState {
  live: LiveRating[];
  forgotten: boolean;
}

/** How fresh a read is: the session's bookmark and the time when it was issued. */
interface ReadPoint {
  bookmark: string | null;
  at: number;
}

interface Entry extends UserState {
  bookmark: string | null;
  /** When D1 said this (ms since the epoch): the entry serves bookmark-less reads until `at` + USER_STATE_CACHE_SECONDS. */
  at: number;
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

/** Whether an entry is younger than USER_STATE_CACHE_SECONDS (one without its time never is). */
function young(entry: Entry, seconds: number, now: number): boolean {
  return now - entry.at < seconds * 1000;
}

/** Whether an entry may answer this request: young enough, and as fresh as the request's bookmark. */
function serves(db: RequestDatabase, entry: Entry, now: number): boolean {
  if (!young(entry, db.userState.seconds, now)) return false;
  // a request after a write needs a copy at least as fresh as its bookmark
  return db.from === null || (entry.bookmark !== null && entry.bookmark >= db.from);
}

/**
 * The isolate's own copies, newest use last. Bounded by users and by live entries, so a burst of
 * heavy users cannot grow the isolate toward Workers' 128 MB (about 100 bytes an entry).
 */
const inMemory = new Map<string, Entry>();
const MEMORY_USERS = 20_000;
const MEMORY_ENTRIES = 200_000;
let memoryEntries = 0;

function memoryKey(db: RequestDatabase, userId: number): string {
  return `${db.userState.origin}|${userId}`;
}

function dropFromMemory(k: string): void {
  const old = inMemory.get(k);
  if (!old) return;
  inMemory.delete(k);
  memoryEntries -= old.live.length;
}

function keepInMemory(k: string, entry: Entry, seconds: number): void {
  const kept = inMemory.get(k);
  // a read issued before a write of this isolate may end after it: the newer state stays (while it serves)
  if (kept?.bookmark && young(kept, seconds, Date.now()) && (entry.bookmark === null || entry.bookmark < kept.bookmark)) return;
  dropFromMemory(k);
  inMemory.set(k, entry);
  memoryEntries += entry.live.length;
  for (const oldest of inMemory.keys()) {
    if (inMemory.size <= MEMORY_USERS && memoryEntries <= MEMORY_ENTRIES) break;
    dropFromMemory(oldest);
  }
}

/**
 * The user's state when the isolate can say it with no I/O at all: its copy of the user's state,
 * or "none" when the user has no live state (live-users.ts). Null: it cannot (none, too old, or
 * older than the request's bookmark); readUserState then asks the location's cache, then D1.
 */
export function userStateInMemory(db: D1Database, userId: number): UserState | null {
  const request = requestDatabase(db);
  if (!request || request.userState.seconds === 0) return null;
  const k = memoryKey(request, userId);
  const entry = inMemory.get(k);
  if (entry && serves(request, entry, Date.now())) {
    // used: the newest in the isolate's order
    inMemory.delete(k);
    inMemory.set(k, entry);
    return { live: entry.live, forgotten: entry.forgotten };
  }
  // too old for anyone (a newer bookmark's reader leaves it for bookmark-less ones)
  if (entry && request.from === null) dropFromMemory(k);
  // most users never rated live: the isolate knows who did (live-users.ts)
  return hasNoLiveState(request, userId) ? { live: [], forgotten: false } : null;
}

async function cached(db: RequestDatabase, userId: number): Promise<Entry | null> {
  const cache = cacheOf();
  if (!cache || db.userState.seconds === 0) return null;
  const hit = await cache.match(key(db, userId));
  if (!hit) return null;
  const entry = await hit.json<Entry>();
  if (!serves(db, entry, Date.now())) return null;
  keepInMemory(memoryKey(db, userId), entry, db.userState.seconds);
  return entry;
}

/** Users whose state a request stored after its write (the others it wrote for are dropped: index.ts). */
const stored = new WeakMap<RequestDatabase, Set<number>>();

export function storedUserStates(db: RequestDatabase): ReadonlySet<number> {
  return stored.get(db) ?? new Set();
}

/** Stores the state as of the session's current bookmark (awaited by writes, so their next read finds it). */
export async function rememberUserState(db: D1Database, userId: number, state: UserState, readAt?: ReadPoint): Promise<void> {
  const request = requestDatabase(db);
  if (!request || request.userState.seconds === 0) return;
  if (request.wrote) {
    stored.set(request, (stored.get(request) ?? new Set()).add(userId));
    noteLiveUser(request, userId);
  }
  // a write's state is its batch's own: as fresh as the session after it. A read is only as fresh
  // as the session when it was issued (another query of the request may have moved the session's
  // bookmark past what this read saw)
  const entry: Entry = readAt
    ? { ...state, bookmark: readAt.bookmark, at: readAt.at }
    : { ...state, bookmark: newer(request.from, request.bookmark()), at: Date.now() };
  keepInMemory(memoryKey(request, userId), entry, request.userState.seconds);
  const cache = cacheOf();
  if (!cache) return;
  await cache.put(
    key(request, userId),
    new Response(JSON.stringify(entry), { headers: { "content-type": "application/json", "cache-control": `max-age=${request.userState.seconds}` } }),
  );
}

/** Drops this location's entry (a write that did not say what it left). */
export async function forgetUserState(db: D1Database, userId: number): Promise<void> {
  const request = requestDatabase(db);
  if (!request || request.userState.seconds === 0) return;
  dropFromMemory(memoryKey(request, userId));
  // dropped because a write changed the user's state: the user has live state from now on
  noteLiveUser(request, userId);
  const cache = cacheOf();
  if (cache) await cache.delete(key(request, userId));
}

/**
 * The user's live state: this location's cache when fresh enough, else one D1 batch through the
 * request's session (then cached). Throws the live store's 503 when D1 cannot be read.
 */
export async function readUserState(db: D1Database, userId: number): Promise<UserState> {
  const request = requestDatabase(db);
  const early = request ? prefetched.get(request)?.get(userId) : undefined;
  if (early) {
    prefetched.get(request!)?.delete(userId);
    return early;
  }
  return readUserStateNow(db, userId);
}

/** Reads begun before the request needed them (prefetchUserState), by request. */
const prefetched = new WeakMap<RequestDatabase, Map<number, Promise<UserState>>>();

/**
 * Begins reading the user's state now; the request's readUserState takes this read instead of
 * making its own. For a fresh isolate's first recommendation, whose model is still loading: the
 * read then waits beside the load's R2 reads, not after them.
 */
export function prefetchUserState(db: D1Database, userId: number): void {
  const request = requestDatabase(db);
  if (!request) return;
  const work = readUserStateNow(db, userId);
  // a failure is the reader's to see, when it reads; a request that never reads leaves it unseen
  work.catch(() => {});
  prefetched.set(request, (prefetched.get(request) ?? new Map()).set(userId, work));
}

async function readUserStateNow(db: D1Database, userId: number): Promise<UserState> {
  const own = userStateInMemory(db, userId);
  if (own) return own;
  const request = requestDatabase(db);
  const hit = request ? await cached(request, userId).catch(() => null) : null;
  if (hit) return { live: hit.live, forgotten: hit.forgotten };
  const readAt: ReadPoint | undefined = request ? { bookmark: newer(request.from, request.bookmark()), at: Date.now() } : undefined;
  const state = await guarded(async () => {
    const [live, forgotten] = await db.batch(userStateQueries(db, userId));
    return userStateFrom(live, forgotten);
  });
  // the answer does not wait for the location's cache, but the put must outlive the answer:
  // workerd drops a request's unfinished work when its response is done, unless waitUntil holds
  // it (a dropped put cost every later request of the user a D1 read: bench:profile)
  const put = rememberUserState(db, userId, state, readAt).catch(() => {});
  request?.userState.defer?.(put);
  return state;
}
