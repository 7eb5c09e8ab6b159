// Forgetting a user (DELETE /users/:id): in one D1 batch (all or nothing) the live ratings go,
// the user joins forgotten_users (read by user-read.ts on every recommendation, so the trained-in
// history is hidden at once, and by the next training, which leaves the user out), the user's
// per-user snapshot rows in D1 are erased, and the deletion is audited.
import { SNAPSHOTS_TABLE } from "../../../training/src/contract/user-snapshots.ts";
import { ApiError } from "../errors.ts";
import { guarded } from "../live-store.ts";
import { auditStatement } from "./audit.ts";
import { log } from "../log.ts";

/**
 * Whether the user asked to be forgotten, as a statement (one row when forgotten): user-read.ts
 * reads it in one batch with the live ratings. When D1 cannot say, the user counts as not
 * forgotten: the recommendation then degrades as it does for the live ratings (served from the
 * snapshot, x-live-history: unavailable), and writes, which would need D1, answer 503.
 */
export function forgottenQuery(db: D1Database, userId: number): D1PreparedStatement {
  return db.prepare("SELECT 1 AS forgotten FROM forgotten_users WHERE user_id = ?1").bind(userId);
}

/** Forgets the user; returns how many live ratings were removed. 503 when D1 fails (then nothing changed). */
export async function forgetUser(db: D1Database, userId: number, actor: string, now = Date.now()): Promise<number> {
  try {
    // retried on transient failures as every live-store statement is (the batch may run twice: idempotent)
    const [ratings] = await guarded(() =>
      db.batch([
        db.prepare("DELETE FROM ratings WHERE user_id = ?1").bind(userId),
        db
          .prepare(
            "INSERT INTO forgotten_users (user_id, forgotten_at) VALUES (?1, ?2) ON CONFLICT (user_id) DO UPDATE SET forgotten_at = excluded.forgotten_at",
          )
          .bind(userId, Math.floor(now / 1000)),
        db.prepare(`DELETE FROM ${SNAPSHOTS_TABLE} WHERE user_id = ?1`).bind(userId),
        auditStatement(db, { actor, action: "user.delete", subject: `user:${userId}` }, null, now),
      ]),
    );
    const removed = ratings.meta.changes;
    return removed;
  } catch (err) {
    if (!(err instanceof ApiError)) log.error("D1 error (forget)", err);
    throw new ApiError(503, "live_store_unavailable", `the live store (D1) is not available right now, so user ${userId} was not deleted; try again shortly`);
  }
}

/** A page of forgotten users, by id, after `after`: what the next training leaves out. */
export async function forgottenPage(
  db: D1Database,
  limit: number,
  after: number,
): Promise<{ users: { userId: number; forgottenAt: number }[]; next: number | null }> {
  try {
    const { results } = await db
      .prepare("SELECT user_id, forgotten_at FROM forgotten_users WHERE user_id > ?1 ORDER BY user_id LIMIT ?2")
      .bind(after, limit + 1)
      .all<{ user_id: number; forgotten_at: number }>();
    const users = results.slice(0, limit).map((r) => ({ userId: r.user_id, forgottenAt: r.forgotten_at }));
    return { users, next: results.length > limit ? users[users.length - 1].userId : null };
  } catch (err) {
    log.error("D1 error (forgotten users)", err);
    throw new ApiError(503, "live_store_unavailable", "the list of forgotten users (D1) is not available right now; try again shortly");
  }
}
