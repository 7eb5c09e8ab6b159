// Parsing of everything a client sends: path ids, query values and JSON bodies, as Hono
// validators (c.req.valid(...) in the handlers). Each failure is an ApiError 400 in the one JSON
// shape, naming the field and what was wrong, and nothing is stored.
import type { Context } from "hono";
import { validator } from "hono/validator";
import type { AppEnv } from "./env.ts";
import { ApiError } from "./errors.ts";

/** At most this many entries in one ratings POST or one anonymous history. */
const MAX_ENTRIES = 1000;
/** Request bodies above this answer 413. */
export const MAX_BODY_BYTES = 1024 * 1024;

const bad = (message: string): ApiError => new ApiError(400, "bad_request", message);

/** Parses a positive integer path or query value, or answers 400. */
function positiveInt(value: string | undefined, what: string): number {
  if (value === undefined || !/^[0-9]{1,9}$/.test(value) || Number(value) < 1) {
    throw bad(`${what} must be a positive integer, got ${JSON.stringify(value ?? "")}`);
  }
  return Number(value);
}

const K_RULE = "k must be an integer from 1 to 100";

/** k from the query string: default 10, allowed 1..100. */
function parseK(value: string | undefined): number {
  if (value === undefined) return 10;
  if (!/^[0-9]{1,3}$/.test(value) || Number(value) < 1 || Number(value) > 100) throw bad(`${K_RULE}, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** k from a JSON body: a number, default 10, allowed 1..100. */
function bodyK(value: unknown): number {
  if (value === undefined) return 10;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 100) throw bad(`${K_RULE}, got ${JSON.stringify(value)}`);
  return value;
}

/** One rated or watched movie, as clients send it. */
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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * A list of {movieId, rating?, timestamp?} under `field`: 1..MAX_ENTRIES entries, movie ids the
 * model knows. Later entries for the same movie replace earlier ones. Every entry is checked
 * before anything is used, and the first bad one is named.
 */
function parseEntries(body: unknown, field: string, knownMovie: (movieId: number) => boolean): RatingEntry[] {
  if (!isObject(body)) throw bad(`the body must be a JSON object with a "${field}" array`);
  const list = body[field];
  if (!Array.isArray(list)) throw bad(`"${field}" must be an array of {"movieId": ..., "rating": ...}`);
  if (list.length === 0 || list.length > MAX_ENTRIES) throw bad(`"${field}" must hold 1 to ${MAX_ENTRIES} entries, got ${list.length}`);
  const byMovie = new Map<number, RatingEntry>();
  list.forEach((e: unknown, k) => {
    const at = `${field}[${k}]`;
    if (!isObject(e)) throw bad(`${at} must be an object like {"movieId": 1193, "rating": 5}`);
    const unknownKey = Object.keys(e).find((key) => !["movieId", "rating", "timestamp"].includes(key));
    if (unknownKey) throw bad(`${at} has an unknown field "${unknownKey}" (allowed: movieId, rating, timestamp)`);
    const { movieId, rating, timestamp } = e;
    if (typeof movieId !== "number" || !Number.isSafeInteger(movieId) || movieId < 1)
      throw bad(`${at}.movieId must be a positive integer, got ${JSON.stringify(movieId)}`);
    if (!knownMovie(movieId)) throw new ApiError(400, "unknown_movie", `${at}.movieId ${movieId} is not in the model's catalogue`);
    if (rating !== undefined && rating !== null && (typeof rating !== "number" || !(rating >= 1 && rating <= 5))) {
      throw bad(`${at}.rating must be a number from 1 to 5 (or absent for "watched"), got ${JSON.stringify(rating)}`);
    }
    if (timestamp !== undefined && timestamp !== null && (typeof timestamp !== "number" || !Number.isSafeInteger(timestamp) || timestamp < 0)) {
      throw bad(`${at}.timestamp must be unix seconds (a non-negative integer), got ${JSON.stringify(timestamp)}`);
    }
    byMovie.set(movieId, { movieId, rating: (rating as number | null | undefined) ?? null, timestamp: (timestamp as number | null | undefined) ?? null });
  });
  return [...byMovie.values()];
}

/** A query value given once: a repeated parameter is ambiguous, so it is refused. */
function single(value: string | string[] | undefined, name: string): string | undefined {
  if (Array.isArray(value)) throw bad(`${name} is given ${value.length} times; give it once`);
  return value;
}

/** :id as a user id. */
export const userParam = validator("param", (p: Record<string, string>) => ({ userId: positiveInt(p.id, "user id") }));

/** :id as a movie id. */
export const movieParam = validator("param", (p: Record<string, string>) => ({ movieId: positiveInt(p.id, "movie id") }));

/** :id and :movieId. */
export const userMovieParams = validator("param", (p: Record<string, string>) => ({
  userId: positiveInt(p.id, "user id"),
  movieId: positiveInt(p.movieId, "movie id"),
}));

/** ?k=, 1..100, default 10. */
export const kQuery = validator("query", (q: Record<string, string | string[]>) => ({ k: parseK(single(q.k, "k")) }));

/** Movies are checked against the model withModel put on the context (it runs first). */
function isKnownMovie(c: Context): (movieId: number) => boolean {
  const model = (c as Context<AppEnv>).var.model;
  return (movieId) => model.itemIndex.has(movieId);
}

/** Hono reads a JSON body only under a JSON Content-Type (and passes {} otherwise): say so. */
function requireJson(c: Context): void {
  const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (!/^application\/([\w.-]+\+)?json$/.test(type))
    throw bad(`send the body as JSON with Content-Type: application/json (got ${JSON.stringify(type || "none")})`);
}

/** {"ratings": [...]} of POST /users/:id/ratings, movies checked against the served model. */
export const ratingsBody = validator("json", (body: unknown, c) => {
  requireJson(c);
  return parseEntries(body, "ratings", isKnownMovie(c));
});

/** {"history": [...], "k"?} of POST /recs. */
export const historyBody = validator("json", (body: unknown, c) => {
  requireJson(c);
  const history = parseEntries(body, "history", isKnownMovie(c));
  const extra = Object.keys(body as object).find((key) => key !== "history" && key !== "k");
  if (extra) throw bad(`unknown field "${extra}" (allowed: history, k)`);
  return { history, k: bodyK((body as { k?: unknown }).k) };
});

/** ?q= (1 to 100 characters) and ?limit= (1..50, default 10) of the title search. */
export const searchQuery = validator("query", (query: Record<string, string | string[]>) => {
  const q = single(query.q, "q");
  if (q === undefined || q.trim() === "" || q.length > 100) throw bad(`q must be 1 to 100 characters of a title to search for, got ${JSON.stringify(q ?? "")}`);
  const raw = single(query.limit, "limit");
  if (raw !== undefined && (!/^[0-9]{1,2}$/.test(raw) || Number(raw) < 1 || Number(raw) > 50))
    throw bad(`limit must be an integer from 1 to 50, got ${JSON.stringify(raw)}`);
  return { q, limit: raw === undefined ? 10 : Number(raw) };
});
