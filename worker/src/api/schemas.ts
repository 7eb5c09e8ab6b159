// The zod schemas of what clients send and get back, shared by every route definition. They are
// the one source of the request validation, the OpenAPI document (/openapi.json) and the page's
// typed client, so this folder imports nothing but zod: the page type-checks against it without
// the Worker's runtime types. Every failure message names the field and says what was wrong; the
// validation hook (../validation.ts) puts the field's place in a body (`ratings[1].rating`) in front.
import { z } from "@hono/zod-openapi";

/** At most this many entries in one ratings POST or one anonymous history. */
export const MAX_ENTRIES = 1000;

const got = (input: unknown): string => JSON.stringify(input ?? "");

/**
 * One query value: a repeated parameter arrives as an array and is ambiguous, so it is refused
 * by name; anything else that breaks the rule is answered with the rule and what was sent.
 */
function queryError(name: string, rule: string) {
  return (issue: { input?: unknown }): string =>
    Array.isArray(issue.input) ? `${name} is given ${issue.input.length} times; give it once` : `${rule}, got ${got(issue.input)}`;
}

/** A positive integer in the path (`/users/{id}`), at most 9 digits. */
function pathId(what: string, description: string, example: number) {
  const error = (issue: { input?: unknown }) => `${what} must be a positive integer, got ${got(issue.input)}`;
  return z
    .string({ error })
    .regex(/^(?!0+$)[0-9]{1,9}$/, { error })
    .transform(Number)
    .openapi({ type: "integer", minimum: 1, maximum: 999_999_999, description, example });
}

export const UserIdParams = z.object({ id: pathId("user id", "A MovieLens user id, or any positive id for a user the model does not know.", 1) });
export const MovieIdParams = z.object({ id: pathId("movie id", "A MovieLens movie id.", 1) });
export const UserMovieParams = z.object({
  id: pathId("user id", "A user id.", 1),
  movieId: pathId("movie id", "The movie whose live rating is deleted.", 1),
});

const kRule = "k must be an integer from 1 to 100";
/** ?k=: how many movies to answer, 1..100, default 10. */
export const KQuery = z.object({
  k: z
    .string({ error: queryError("k", kRule) })
    .regex(/^(?=[0-9]{1,3}$)0*(?:100|[1-9][0-9]?)$/, { error: queryError("k", kRule) })
    .optional()
    .transform((k) => (k === undefined ? 10 : Number(k)))
    .openapi({ type: "integer", minimum: 1, maximum: 100, default: 10, description: "How many movies to answer.", example: 5 }),
});

/** At most this many movie ids in a request's `include` (a candidate list to rank) or `exclude`. */
export const MAX_FILTER_IDS = 1000;
const yearRule = "must be a year from 1800 to 2100";
const diversityRule = "diversity must be a number from 0 to 1";
const namesRule = "must be genre names separated by commas, e.g. Comedy,Drama";
const idsRule = `must be up to ${MAX_FILTER_IDS} movie ids separated by commas, e.g. 1,32,260`;

/** ?genres=Comedy,Drama: a comma-separated list of names (checked against the catalogue by the handler). */
function namesQuery(name: string, description: string) {
  return z
    .string({ error: queryError(name, `${name} ${namesRule}`) })
    .max(1000, { error: queryError(name, `${name} ${namesRule}`) })
    .optional()
    .transform((v) =>
      v === undefined
        ? undefined
        : v
            .split(",")
            .map((g) => g.trim())
            .filter((g) => g.length > 0),
    )
    .openapi({ type: "string", description, example: "Comedy,Drama" });
}

/** ?exclude=1,32: a comma-separated list of movie ids. */
function idsQuery(name: string, description: string) {
  const error = queryError(name, `${name} ${idsRule}`);
  return z
    .string({ error })
    .regex(/^\s*$|^[0-9]{1,9}(,[0-9]{1,9})*$/, { error })
    .refine((v) => v.split(",").length <= MAX_FILTER_IDS, { error })
    .optional()
    .transform((v) => (v === undefined ? undefined : v.trim() === "" ? [] : v.split(",").map(Number)))
    .openapi({ type: "string", description, example: "1,32,260" });
}

function yearQuery(name: string, description: string) {
  const error = queryError(name, `${name} ${yearRule}`);
  return z
    .string({ error })
    .regex(/^[0-9]{4}$/, { error })
    .refine((v) => Number(v) >= 1800 && Number(v) <= 2100, { error })
    .optional()
    .transform((v) => (v === undefined ? undefined : Number(v)))
    .openapi({ type: "integer", minimum: 1800, maximum: 2100, description, example: name === "yearMin" ? 1980 : 1999 });
}

const FILTER_TEXT = {
  genres: "Only movies of any of these genres (the catalogue's names, any case; an unknown name is a 400 that lists the valid ones).",
  excludeGenres: "No movie of any of these genres.",
  yearMin: "Only movies from this year on (a movie without a year is left out).",
  yearMax: "Only movies up to this year.",
  exclude: `Movie ids never to return, besides every rated one (up to ${MAX_FILTER_IDS}).`,
  include: `Rank only these movie ids (up to ${MAX_FILTER_IDS}; ids the catalogue lacks are left out); the other filters still apply.`,
  diversity:
    "0 to 1: re-ranks the best 100 by maximal marginal relevance with genre similarity; 0 (default) is the model's order, 1 the most varied list (see docs/rules.md).",
} as const;

/** ?k= and the filters and diversity of GET /users/{id}/recs (docs/rules.md). */
export const RecsQuery = KQuery.extend({
  genres: namesQuery("genres", FILTER_TEXT.genres),
  excludeGenres: namesQuery("excludeGenres", FILTER_TEXT.excludeGenres),
  yearMin: yearQuery("yearMin", FILTER_TEXT.yearMin),
  yearMax: yearQuery("yearMax", FILTER_TEXT.yearMax),
  exclude: idsQuery("exclude", FILTER_TEXT.exclude),
  include: idsQuery("include", FILTER_TEXT.include),
  diversity: z
    .string({ error: queryError("diversity", diversityRule) })
    .regex(/^(0(\.[0-9]{1,6})?|1(\.0{1,6})?|\.[0-9]{1,6})$/, { error: queryError("diversity", diversityRule) })
    .optional()
    .transform((v) => (v === undefined ? 0 : Number(v)))
    .openapi({ type: "number", minimum: 0, maximum: 1, default: 0, description: FILTER_TEXT.diversity, example: 0.5 }),
});

const qRule = "q must be 1 to 100 characters of a title to search for";
const limitRule = "limit must be an integer from 1 to 50";
/** ?q= and ?limit= of the title search. */
export const SearchQuery = z.object({
  q: z
    .string({ error: queryError("q", qRule) })
    .max(100, { error: queryError("q", qRule) })
    .regex(/\S/, { error: queryError("q", qRule) })
    .openapi({ minLength: 1, maxLength: 100, description: "Part of a title, any case.", example: "toy story" }),
  limit: z
    .string({ error: queryError("limit", limitRule) })
    .regex(/^(?=[0-9]{1,2}$)0*(?:50|[1-4][0-9]|[1-9])$/, { error: queryError("limit", limitRule) })
    .optional()
    .transform((limit) => (limit === undefined ? 10 : Number(limit)))
    .openapi({ type: "integer", minimum: 1, maximum: 50, default: 10, description: "At most this many results.", example: 8 }),
});

/** How far ahead of the Worker's clock a rating's timestamp may be (clock skew), in seconds. */
export const MAX_FUTURE_SECONDS = 86_400;

/** One rated or watched movie, as clients send it (later entries for a movie replace earlier ones). */
export const RatingInput = z
  .strictObject(
    {
      movieId: z
        .int({ error: (i) => `must be a positive integer, got ${got(i.input)}` })
        .min(1, { error: (i) => `must be a positive integer, got ${got(i.input)}` })
        .openapi({ description: "A movie id; one the served model does not know counts as watched and is left out of scoring.", example: 1193 }),
      rating: z
        .number({ error: (i) => `must be a number from 1 to 5 (or absent for "watched"), got ${got(i.input)}` })
        .min(1, { error: (i) => `must be a number from 1 to 5 (or absent for "watched"), got ${got(i.input)}` })
        .max(5, { error: (i) => `must be a number from 1 to 5 (or absent for "watched"), got ${got(i.input)}` })
        .nullable()
        .optional()
        .openapi({ description: "1 to 5; absent or null: watched without a rating. 3 and up, and watched, count as liked.", example: 5 }),
      timestamp: z
        .int({ error: (i) => `must be unix seconds (a non-negative integer), got ${got(i.input)}` })
        .min(0, { error: (i) => `must be unix seconds (a non-negative integer), got ${got(i.input)}` })
        // the newer rating of a movie wins: one dated far ahead could never be replaced
        .refine((t) => t <= Date.now() / 1000 + MAX_FUTURE_SECONDS, {
          error: (i) => `must not be more than a day in the future (now is ${Math.floor(Date.now() / 1000)} unix seconds), got ${got(i.input)}`,
        })
        .nullable()
        .optional()
        .openapi({ description: "When, in unix seconds; absent or null: now.", example: 978300760 }),
    },
    {
      error: (i) =>
        i.code === "unrecognized_keys"
          ? `has an unknown field "${i.keys[0]}" (allowed: movieId, rating, timestamp)`
          : `must be an object like {"movieId": 1193, "rating": 5}`,
    },
  )
  .openapi("RatingInput");

/** Ratings to store: 1 to MAX_ENTRIES (one request's write stays bounded). */
function entries() {
  const count = (i: { input?: unknown }) => `must hold 1 to ${MAX_ENTRIES} entries, got ${Array.isArray(i.input) ? i.input.length : got(i.input)}`;
  return z
    .array(RatingInput, { error: () => `must be an array of {"movieId": ..., "rating": ...}` })
    .min(1, { error: count })
    .max(MAX_ENTRIES, { error: count });
}

/**
 * A visitor's history: any length that fits in the 1 MB body (ML-1M has users with 1,694 ratings);
 * nothing is stored, and ranking reads it once.
 */
function historyEntries() {
  return z.array(RatingInput, { error: () => `must be an array of {"movieId": ..., "rating": ...}` });
}

/** The body of POST /users/{id}/ratings. */
export const RatingsBody = z
  .object(
    { ratings: entries().openapi({ description: `1 to ${MAX_ENTRIES} ratings to store.` }) },
    { error: `the body must be a JSON object with a "ratings" array` },
  )
  .openapi("RatingsBody", { example: { ratings: [{ movieId: 1193, rating: 5 }, { movieId: 661 }] } });

/** The filters and diversity of POST /recs, as JSON (the same rules as GET /users/{id}/recs' query). */
function filterFields() {
  const names = (description: string) =>
    z
      .array(z.string({ error: (i) => `must be a genre name, got ${got(i.input)}` }).max(100), {
        error: (i) => `must be an array of genre names, got ${got(i.input)}`,
      })
      .max(100)
      .optional()
      .openapi({ description, example: ["Comedy"] });
  const idError = (i: { input?: unknown }) => `must be a positive integer movie id, got ${got(i.input)}`;
  const idCount = (i: { input?: unknown }) =>
    `must be an array of up to ${MAX_FILTER_IDS} movie ids, got ${Array.isArray(i.input) ? `${i.input.length} ids` : got(i.input)}`;
  const ids = (description: string) =>
    z
      .array(z.int({ error: idError }).min(1, { error: idError }), { error: idCount })
      .max(MAX_FILTER_IDS, { error: idCount })
      .optional()
      .openapi({ description, example: [1, 32] });
  const yearError = (i: { input?: unknown }) => `${yearRule}, got ${got(i.input)}`;
  const year = (description: string, example: number) =>
    z.int({ error: yearError }).min(1800, { error: yearError }).max(2100, { error: yearError }).optional().openapi({ description, example });
  const diversityError = (i: { input?: unknown }) => `must be a number from 0 to 1, got ${got(i.input)}`;
  return {
    genres: names(FILTER_TEXT.genres),
    excludeGenres: names(FILTER_TEXT.excludeGenres),
    yearMin: year(FILTER_TEXT.yearMin, 1980),
    yearMax: year(FILTER_TEXT.yearMax, 1999),
    exclude: ids(FILTER_TEXT.exclude),
    include: ids(FILTER_TEXT.include),
    diversity: z
      .number({ error: diversityError })
      .min(0, { error: diversityError })
      .max(1, { error: diversityError })
      .optional()
      .openapi({ default: 0, description: FILTER_TEXT.diversity, example: 0.5 }),
  };
}

/** The body of POST /recs. */
export const HistoryBody = z
  .strictObject(
    {
      history: historyEntries().openapi({
        description: `The movies the visitor rated or watched, as many as fit in the 1 MB body; all are excluded from the answer. Movies the model does not know are left out of scoring (counted in \`ignored\`); an entry given twice must agree. Folded in oldest first by \`timestamp\` (absent: now; the same time: the order sent); the served blend weighs recent movies more. Nothing the model can rank from (empty, low ratings only): the cold-start list.`,
      }),
      k: z
        .int({ error: (i) => `must be an integer from 1 to 100, got ${got(i.input)}` })
        .min(1, { error: (i) => `must be an integer from 1 to 100, got ${got(i.input)}` })
        .max(100, { error: (i) => `must be an integer from 1 to 100, got ${got(i.input)}` })
        .optional()
        .openapi({ default: 10, description: "How many movies to answer.", example: 10 }),
      ...filterFields(),
    },
    {
      error: (i) =>
        i.code === "unrecognized_keys"
          ? `unknown field "${i.keys[0]}" (allowed: ${["history", "k", ...Object.keys(FILTER_TEXT)].join(", ")})`
          : `the body must be a JSON object with a "history" array`,
    },
  )
  .openapi("HistoryBody", {
    example: {
      history: [
        { movieId: 1, rating: 5 },
        { movieId: 2355, rating: 1 },
      ],
      k: 10,
    },
  });

// ---- answers --------------------------------------------------------------------------------

/** Every error: a stable code for programs and a message for people. */
export const ErrorBody = z
  .object({
    error: z.string().openapi({ description: "A stable code, e.g. bad_request, unauthorized, no_foldin, no_model.", example: "bad_request" }),
    message: z.string().openapi({ description: "What was wrong, where, and how to fix it.", example: 'k must be an integer from 1 to 100, got "0"' }),
  })
  .openapi("Error");

export const Movie = z
  .object({
    movieId: z.int().openapi({ example: 1 }),
    title: z.string().openapi({ example: "Toy Story (1995)" }),
    year: z.int().nullable().openapi({ example: 1995 }),
    genres: z.array(z.string()).openapi({ example: ["Animation", "Children's", "Comedy"] }),
  })
  .openapi("Movie");

export const Because = z
  .object({
    movieId: z.int().openapi({ example: 2355 }),
    title: z.string().openapi({ example: "Bug's Life, A (1998)" }),
    similarity: z.number().openapi({ description: "Cosine of the two movies' item embeddings, -1 to 1.", example: 0.83 }),
  })
  .openapi("Because", { description: "The liked movie this recommendation is most similar to." });

export const Recommendation = Movie.extend({
  score: z.number().openapi({ description: "The model's score; higher is better. Comparable within one answer only.", example: 4.21 }),
  because: Because.nullable().openapi({ description: "Why: the liked movie it is most similar to; null when the model cannot say." }),
}).openapi("Recommendation");

const source = z.enum(["model", "fold-in", "popular"]).openapi({
  description:
    "model: the user's trained vector or history in the model; fold-in: a history folded in by the model's fold-in graph; popular: the cold-start list (the most liked movies of the data's last weeks), for a history with no liked movie the model knows.",
  example: "fold-in",
});
const ignored = z.int().openapi({
  description: "History entries left out of scoring: movies the model has no vector for (still excluded from the answer).",
  example: 0,
});
const version = z.string().openapi({ description: "The served model version (also the x-model-version header).", example: "lightgcn-ml-1m-20261201" });
// every list is traceable (docs/loop.md): events name it by recId, metrics group it by arm and model
const recId = z
  .string()
  .openapi({ description: "This list's id: send it with the events about its movies (POST /events).", example: "3f1c2a9e-5b7d-4c1e-9a0b-2d4e6f8a1c3b" });
const arm = z.string().openapi({ description: "The A/B experiment arm that served it; 'default' outside any experiment.", example: "default" });

export const UserRecsAnswer = z
  .object({
    user: z.int().openapi({ example: 1 }),
    model: version,
    recId,
    arm,
    k: z.int().openapi({ example: 5 }),
    source,
    ignored,
    recommendations: z.array(Recommendation),
  })
  .openapi("UserRecommendations");

export const HistoryRecsAnswer = z
  .object({ model: version, recId, arm, k: z.int().openapi({ example: 10 }), source, ignored, recommendations: z.array(Recommendation) })
  .openapi("HistoryRecommendations");

export const SearchAnswer = z.object({ model: version, q: z.string().openapi({ example: "toy story" }), results: z.array(Movie) }).openapi("SearchResults");

export const MovieAnswer = z.object({ model: version, movie: Movie }).openapi("MovieAnswer");

export const SimilarAnswer = z
  .object({
    model: version,
    k: z.int().openapi({ example: 5 }),
    movie: Movie,
    similar: z.array(Movie.extend({ score: z.number().openapi({ description: "Cosine similarity to the movie, -1 to 1.", example: 0.91 }) })),
  })
  .openapi("SimilarMovies");

export const LiveRating = z
  .object({
    movieId: z.int().openapi({ example: 1193 }),
    rating: z.number().nullable().openapi({ description: "1 to 5, or null: watched without a rating.", example: 5 }),
    timestamp: z.int().openapi({ description: "Unix seconds.", example: 978300760 }),
  })
  .openapi("LiveRating");

export const StoredAnswer = z
  .object({
    user: z.int().openapi({ example: 1 }),
    stored: z.int().openapi({ description: "How many ratings were stored.", example: 2 }),
    ratings: z.array(LiveRating),
  })
  .openapi("StoredRatings");

export const RatingsAnswer = z.object({ user: z.int().openapi({ example: 1 }), ratings: z.array(LiveRating) }).openapi("LiveRatings");

export const DeletedRatingAnswer = z
  .object({
    user: z.int().openapi({ example: 1 }),
    movieId: z.int().openapi({ example: 1193 }),
    deleted: z.boolean().openapi({ description: "Whether there was a live rating to delete.", example: true }),
  })
  .openapi("DeletedRating");

export const DeletedUserAnswer = z
  .object({ user: z.int().openapi({ example: 1 }), deleted: z.int().openapi({ description: "How many live ratings were deleted.", example: 12 }) })
  .openapi("DeletedUser");

export const HealthAnswer = z
  .object({
    status: z.enum(["ok", "degraded"]).openapi({
      description:
        "degraded: D1 is unavailable (recommendations are served, writes are not), or the version models/current.json names could not be loaded and an earlier one is served (see reason and wanted).",
    }),
    model: version,
    d1: z.enum(["ok", "unavailable"]).openapi({ description: "Whether the live store (D1) answers." }),
    reason: z.string().optional().openapi({
      description: "When an earlier version is served: why the published one is not.",
      example: "v2 is not a servable bundle: movies.json is empty",
    }),
    wanted: z
      .string()
      .nullable()
      .optional()
      .openapi({ description: "When an earlier version is served: the version models/current.json names (null: the pointer could not be read)." }),
    similar: z.boolean().openapi({ description: "Whether GET /movies/{id}/similar can answer (the model has item embeddings)." }),
    name: z.string().optional().openapi({ description: "Without a token configured only: the model's name.", example: "lightgcn" }),
    dataset: z.string().optional().openapi({ description: "Without a token configured only.", example: "ml-1m" }),
    users: z.int().optional().openapi({ description: "Without a token configured only: users the model knows.", example: 6040 }),
    items: z.int().optional().openapi({ description: "Without a token configured only: movies in the catalogue.", example: 3706 }),
    dim: z.int().optional().openapi({ description: "Without a token configured only: embedding size.", example: 64 }),
    foldin: z
      .string()
      .nullable()
      .optional()
      .openapi({ description: "Without a token configured only: how a history is folded in, or null.", example: "propagated" }),
    recs: z.string().optional().openapi({ description: "Without a token configured only: what model.onnx ranks from.", example: "user" }),
    ranker: z.enum(["int8-kernel", "onnx"]).optional().openapi({ description: "Without a token configured only: what ranks the catalogue." }),
    loadedAt: z.string().optional().openapi({ description: "Without a token configured only: when this isolate loaded the model (ISO 8601)." }),
  })
  .openapi("Health");
