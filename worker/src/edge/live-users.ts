// Which users have live state in D1 at all (migration 0008's live_users: anyone who ever rated,
// dismissed or asked to be forgotten), kept in the isolate's memory. Most known users have none:
// their list is the bundle's snapshot alone, and a request for one of them needs no D1 read and no
// cache lookup, in any isolate that holds the set (docs/edge.md#known-users-without-live-state).
// The set is read by the same rules as a cached user state (user-state.ts):
// - a request without a bookmark uses it while it is younger than USER_STATE_CACHE_SECONDS: a
//   write elsewhere reaches this isolate's bookmark-less readers within that time;
// - a request with a bookmark uses it only when the set was read at least that fresh.
// It is read again in the background (waitUntil) once half that time has passed, by the rows
// after the last it saw (users are stamped once, in commit order), never in a request's way; if
// the stamps went back (a restored or rebuilt table), whole.
import { log } from "../log.ts";
import { type RequestDatabase, baseDatabase } from "./session.ts";

interface LiveUsers {
  users: Set<number>;
  /** The largest stamp read: the next read asks for the rows after it. */
  seq: number;
  /** When the read that brought it up to date started (ms since the epoch). */
  at: number;
  /** The D1 bookmark that read ended at: how fresh it is for requests that bring one. */
  bookmark: string | null;
}

/** Beyond this many users the set is not kept (about 40 bytes a user): every request reads D1 again. */
export const MAX_LIVE_USERS = 500_000;
const PAGE = 50_000;

/** Per isolate, by the origin the requests came to (as the cached states are). */
const sets = new Map<string, LiveUsers | "too many">();
const reading = new Set<string>();
/** A failed read (D1 down, or a database without migration 0008) is not tried again before this. */
const failedUntil = new Map<string, number>();

/**
 * True when the user has no live state, as far as a set fresh enough for this request knows: the
 * caller may then serve the user as having no live ratings and not forgotten, without asking D1.
 * False means "ask": the user has live state, or the set cannot say (not read yet, too old, older
 * than the request's bookmark). Starts a background read when the set is due one.
 */
export function hasNoLiveState(db: RequestDatabase, userId: number): boolean {
  const seconds = db.userState.seconds;
  if (seconds === 0) return false;
  const key = db.userState.origin;
  const set = sets.get(key);
  const now = Date.now();
  if (set === "too many") return false;
  if (!set || now - set.at >= (seconds * 1000) / 2) readInBackground(db, key);
  if (!set || now - set.at >= seconds * 1000) return false;
  if (db.from !== null && (set.bookmark === null || set.bookmark < db.from)) return false;
  return !set.users.has(userId);
}

/** A write of this isolate gave the user live state: the set says so before its next read. */
export function noteLiveUser(db: RequestDatabase, userId: number): void {
  const set = sets.get(db.userState.origin);
  if (set && set !== "too many") set.users.add(userId);
}

function readInBackground(db: RequestDatabase, key: string): void {
  if (reading.has(key) || Date.now() < (failedUntil.get(key) ?? 0)) return;
  reading.add(key);
  const work = readLiveUsers(baseDatabase(db), key)
    .catch((err: unknown) => {
      failedUntil.set(key, Date.now() + db.userState.seconds * 1000);
      log.warn("the set of users with live state could not be read (is migration 0008 applied?)", err);
    })
    .finally(() => reading.delete(key));
  db.userState.defer?.(work);
}

async function readLiveUsers(base: D1Database, key: string): Promise<void> {
  // its own session from the nearest copy: the request's session and bookmark stay the request's
  const session = base.withSession("first-unconstrained");
  const started = Date.now();
  const before = sets.get(key);
  let users = before && before !== "too many" ? before.users : new Set<number>();
  let seq = before && before !== "too many" ? before.seq : 0;
  const top = (await session.prepare("SELECT COALESCE(MAX(seq), 0) AS top FROM live_users").first<number>("top")) ?? 0;
  const answeredAt = session.getBookmark();
  const behindBefore = before && before !== "too many" && before.bookmark !== null && (answeredAt === null || answeredAt < before.bookmark);
  if (top < seq && !behindBefore) {
    // the stamps went back (the table was restored or rebuilt): the users after the last one seen
    // would be missed, so the set is read again whole
    users = new Set<number>();
    seq = 0;
  }
  for (;;) {
    const { results } = await session
      .prepare("SELECT user_id, seq FROM live_users WHERE seq > ?1 ORDER BY seq LIMIT ?2")
      .bind(seq, PAGE)
      .all<{ user_id: number; seq: number }>();
    for (const r of results) {
      users.add(r.user_id);
      seq = r.seq;
    }
    if (users.size > MAX_LIVE_USERS) {
      sets.set(key, "too many");
      log.warn(`more than ${MAX_LIVE_USERS} users have live state: every recommendation reads theirs from D1`);
      return;
    }
    if (results.length < PAGE) break;
  }
  const bookmark = session.getBookmark();
  // a replica further behind than the last read's answered: what the set holds is no fresher than before
  const behind = before && before !== "too many" && before.bookmark !== null && (bookmark === null || bookmark < before.bookmark);
  sets.set(key, behind ? { ...before, users, seq } : { users, seq, at: started, bookmark });
}
