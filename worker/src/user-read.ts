// What a known-user recommendation reads before it ranks: the user's snapshot (memory, R2 or D1,
// as the bundle says), the user's live ratings (D1) and, unless the snapshot is in D1, whether
// the user asked to be forgotten (D1). The D1 reads travel in one batch, one round trip: each
// round trip to D1 costs a request more than its query does (under `wrangler dev` on a busy
// 2-core machine, two reads in parallel took ~1 ms of CPU and several ms of p50 more than one
// batch: docs/serving.md#speed). The snapshot read from memory or R2 runs beside the batch.
import { ApiError } from "./errors.ts";
import { readUserState } from "./edge/user-state.ts";
import { type LiveRating, liveRatingsWith } from "./live-store.ts";
import type { LoadedModel } from "./model-store.ts";
import { type UserSnapshot, isD1Store } from "./user-store.ts";

export interface UserReads {
  /** Null: the model was not trained on this user. */
  user: UserSnapshot | null;
  /** Null: the live store could not be read (the snapshot came from elsewhere, so known users are still served). */
  live: LiveRating[] | null;
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
    readUserState(db, userId).catch((err: unknown): null => {
      if (!(err instanceof ApiError)) throw err;
      return null;
    }),
    users.get(userId),
  ]);
  // a user who asked to be forgotten is served as a new user (security/forget.ts; with the
  // snapshot in D1, forgetting erased its rows); D1 down: served from the snapshot
  return { user: state?.forgotten ? null : user, live: state?.live ?? null };
}
