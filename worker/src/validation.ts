// What is left of parsing a request once the route's zod schemas (api/schemas.ts) have run:
// turning a zod failure into the one error JSON, insisting on a JSON Content-Type, and checking
// a body's movies against the served model. Every failure is an ApiError 400 naming the field and
// what was wrong, and nothing is stored.
import type { Hook, z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import type { RatingInput } from "./api/schemas.ts";
import type { AppEnv } from "./env.ts";
import { ApiError } from "./errors.ts";

/** Request bodies above this answer 413. */
export const MAX_BODY_BYTES = 1024 * 1024;

const bad = (message: string): ApiError => new ApiError(400, "bad_request", message);

/** `ratings[1].rating` from ["ratings", 1, "rating"]. */
function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p, n) => (typeof p === "number" ? `[${p}]` : n === 0 ? String(p) : `.${String(p)}`)).join("");
}

/**
 * The defaultHook of every OpenAPIHono: the first problem zod found, as a 400 in the one error
 * shape. Path and query messages name their parameter themselves (api/schemas.ts); in a body the
 * field's place is put in front, so the client knows which entry to fix.
 */
export const validationHook: Hook<unknown, AppEnv, string, undefined> = (result) => {
  if (result.success) return;
  const issue = result.error.issues[0];
  const where = result.target === "json" ? fieldPath(issue.path) : "";
  throw bad(where ? `${where} ${issue.message}` : issue.message);
};

/**
 * A body must come with a JSON Content-Type: said in the error JSON here, before
 * @hono/zod-openapi's own check would answer a bare 415.
 */
export const requireJson = createMiddleware<AppEnv>(async (c, next) => {
  const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (!/^application\/([\w.-]+\+)?json$/.test(type))
    throw bad(`send the body as JSON with Content-Type: application/json (got ${JSON.stringify(type || "none")})`);
  await next();
});

/** One rated or watched movie, as stored and ranked. */
export interface RatingEntry {
  movieId: number;
  /** 1..5, or null: watched without a rating (a positive). */
  rating: number | null;
  /** Unix seconds, or null: now. */
  timestamp: number | null;
}

/** Ratings 3 and up, and unrated watches, are positives (the protocol's rule); all are excluded. */
export function isPositive(rating: number | null): boolean {
  return rating === null || rating >= 3;
}

/**
 * A validated list under `field`, one entry per movie. Movies the served model does not know are
 * kept (they count as watched; ranking leaves them out of scoring). An entry given again with
 * the same rating collapses into one; with `disagree` "refuse", one with a different rating is a
 * 400 naming both entries (a history is one state, so two ratings of a movie are a client bug);
 * with "latest", the later replaces the earlier (a ratings POST is a list of updates).
 */
export function historyEntries(list: readonly z.infer<typeof RatingInput>[], field: string, disagree: "refuse" | "latest"): RatingEntry[] {
  const byMovie = new Map<number, RatingEntry & { at: number }>();
  list.forEach(({ movieId, rating, timestamp }, k) => {
    const entry = { movieId, rating: rating ?? null, timestamp: timestamp ?? null, at: k };
    const earlier = byMovie.get(movieId);
    if (earlier && earlier.rating !== entry.rating && disagree === "refuse")
      throw bad(
        `${field}[${k}] rates movie ${movieId} ${entry.rating ?? "watched"}, but ${field}[${earlier.at}] rates it ${earlier.rating ?? "watched"}: give each movie once`,
      );
    byMovie.set(movieId, entry);
  });
  return [...byMovie.values()].map(({ at: _, ...e }) => e);
}
