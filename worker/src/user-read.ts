// What a known-user recommendation reads before it ranks: the user's snapshot (memory, R2 or D1,
// as the bundle says), the user's live ratings (D1) and, unless the snapshot is in D1, whether
// the user asked to be forgotten (D1). The D1 reads travel in one batch, one round trip: each
// round trip to D1 costs a request more than its query does (under `wrangler dev` on a busy
// 2-core machine, two reads in parallel took ~1 ms of CPU and several ms of p50 more than one
// batch: docs/serving.md#speed). The snapshot read from memory or R2 runs beside the batch.
import { ApiError } from "./errors.ts";
import { type UserState, readUserState, userStateInMemory } from "./edge/user-state.ts";
import { type LiveRating, liveRatingsWith } from "./live-store.ts";
import type { LoadedModel } from "./model-store.ts";
import { type UserSnapshot, isD1Store } from "./user-store.ts";

export interface UserReads {
  /** Null: the model was not trained on this user. */
  user: UserSnapshot | null;
  /** Null: the live store could not be read (the snapshot came from elsewhere, so known users are still served). */
  live: LiveRating[] | null;
}

/** The live state, or null when D1 cannot be read (a known user is then served from the snapshot). */
function liveStateOrNull(db: D1Database, userId: number): Promise<UserState | null> {
  return readUserState(db, userId).catch((err: unknown): null => {
    if (!(err instanceof ApiError)) throw err;
    return null;
  });
}

/** A user who asked to be forgotten is served as a new user (security/forget.ts). */
function readsFrom(user: UserSnapshot | null, state: UserState | null): UserReads {
  return { user: state?.forgotten ? null : user, live: state?.live ?? null };
}

/**
 * Reads the user and ranks them with `rank`. When the live state must be fetched (it is not in
 * the isolate's memory) and the user is known, the snapshot is ranked while that read is in
 * flight: most known users have no live ratings and were never forgotten, and their list is then
 * the one already ranked, so the request costs the longer of the read and the ranking, not both
 * (docs/serving.md#speed). When the state says otherwise the user is ranked again from it, and
 * the early ranking is thrown away: the same list as reading first, always.
 */
export async function readAndRankUser<R>(
  model: LoadedModel,
  db: D1Database,
  userId: number,
  rank: (reads: UserReads) => Promise<R>,
): Promise<{ reads: UserReads; ranked: R }> {
  const users = model.users;
  const own = isD1Store(users) ? null : userStateInMemory(db, userId);
  if (isD1Store(users) || own) {
    const reads = own ? readsFrom(await users.get(userId), own) : await readUser(model, db, userId);
    return { reads, ranked: await rank(reads) };
  }
  const state = liveStateOrNull(db, userId);
  // a failure is seen where it is awaited; should the snapshot's read fail first, this one is not left unhandled
  state.catch(() => {});
  const user = await users.get(userId);
  // a rejection of the early ranking is the answer's only when its list is the one served
  const early = user
    ? rank({ user, live: [] }).then(
        (ranked) => ({ ranked }),
        (error: unknown) => ({ error }),
      )
    : null;
  let reads: UserReads;
  try {
    reads = readsFrom(user, await state);
  } catch (err) {
    // the early ranking runs on the model's sessions: it ends before the request gives the model back
    await early;
    throw err;
  }
  const snapshotOnly = reads.user !== null && (reads.live === null || reads.live.length === 0);
  if (early && snapshotOnly) {
    const outcome = await early;
    if ("error" in outcome) throw outcome.error;
    // live null (D1 down) ranks exactly as no live ratings; the answer still says which it was
    return { reads, ranked: outcome.ranked };
  }
  // the early ranking ran on the same ONNX sessions: let it finish before ranking again
  await early;
  return { reads, ranked: await rank(reads) };
}

export async function readUser(model: LoadedModel, db: D1Database, userId: number): Promise<UserReads> {
  const users = model.users;
  if (isD1Store(users)) {
    // (userId is a positive integer: the route validated it.) D1 down means neither read is
    // possible: the request fails as the live store's would. The store's statements are the
    // model's env.DB's, the binding this request was given.
    const [live, rows] = await liveRatingsWith(db, userId, users.query(userId) as D1PreparedStatement);
    return { user: users.fromRows(rows), live };
  }
  const [state, user] = await Promise.all([
    // the live history (ratings, and dismissed movies as 1s: docs/catalogue.md) and whether the user was
    // forgotten: one D1 batch, or none in a warm location (edge/user-state.ts)
    liveStateOrNull(db, userId),
    users.get(userId),
  ]);
  // with the snapshot in D1, forgetting erased its rows; D1 down: served from the snapshot
  return readsFrom(user, state);
}
