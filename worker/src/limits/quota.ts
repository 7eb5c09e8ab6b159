// Per-user storage quotas: how many rows one user may keep in a table (live ratings; events, once
// that table exists). Checked before the write, from what the write would add: rows whose key the
// user already has are updates and count nothing. Two writes racing past the check can overshoot
// by one request's entries at most (each request is bounded, and rate limited).
import type { Context } from "hono";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { guarded } from "../live-store.ts";
import { type QUOTA_DEFAULTS, quota, trustEnv } from "../security/settings.ts";
import type { RatingEntry } from "../validation.ts";

export interface QuotaSpec {
  /** Table holding the rows, with a user_id column. */
  table: string;
  /** Column that makes a row an update of an existing one (null: every row is new, like appended events). */
  keyColumn: string | null;
  /** The var that sets the limit. */
  limitVar: keyof typeof QUOTA_DEFAULTS;
  /** What a row is, for the error: "ratings". */
  noun: string;
  /** How to make room, for the error. */
  hint: (userId: number) => string;
}

export const RATINGS_QUOTA: QuotaSpec = {
  table: "ratings",
  keyColumn: "movie_id",
  limitVar: "RATINGS_QUOTA",
  noun: "ratings",
  hint: (u) => `delete some first (DELETE /users/${u}/ratings/:movieId, or DELETE /users/${u} for all)`,
};

const IDENT = /^[a-z_][a-z0-9_]*$/;

/**
 * Throws 403 quota_exceeded when storing `keys` (one per new row) would take the user past the
 * quota; 503 when D1 cannot say.
 */
export async function enforceQuota(db: D1Database, spec: QuotaSpec, limit: number, userId: number, keys: readonly number[]): Promise<void> {
  if (!IDENT.test(spec.table) || (spec.keyColumn && !IDENT.test(spec.keyColumn))) throw new Error(`bad quota spec ${spec.table}`);
  const distinct = [...new Set(keys)];
  const sql = spec.keyColumn
    ? `SELECT count(*) AS stored, count(CASE WHEN ${spec.keyColumn} IN (SELECT value FROM json_each(?2)) THEN 1 END) AS present FROM ${spec.table} WHERE user_id = ?1`
    : `SELECT count(*) AS stored, 0 AS present FROM ${spec.table} WHERE user_id = ?1 AND ?2 IS NOT NULL`;
  // retried as every live-store statement is; D1 down: 503, nothing stored
  const row = await guarded(() => db.prepare(sql).bind(userId, JSON.stringify(distinct)).first<{ stored: number; present: number }>());
  const stored = row?.stored ?? 0;
  const present = row?.present ?? 0;
  const adding = spec.keyColumn ? distinct.length - present : keys.length;
  if (stored + adding > limit) {
    throw new ApiError(
      403,
      "quota_exceeded",
      `user ${userId} stores ${stored} ${spec.noun} and this request adds ${adding}, over the quota of ${limit} (${spec.limitVar}); nothing was stored: ${spec.hint(userId)}`,
    );
  }
}

/** POST /users/:id/ratings, once its entries are parsed: throws unless the ratings quota has room. */
export async function ratingsQuota(c: Context<AppEnv>, userId: number, entries: readonly RatingEntry[]): Promise<void> {
  await enforceQuota(
    c.env.DB,
    RATINGS_QUOTA,
    quota(trustEnv(c), "RATINGS_QUOTA"),
    userId,
    entries.map((e) => e.movieId),
  );
}
