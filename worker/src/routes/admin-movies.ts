// POST /admin/movies (the API_TOKEN only): adds or updates movies in the live catalogue (D1 table
// movies, migration 0007; docs/catalogue.md). They are searchable at once, recommended by item
// fold-in (catalogue/live.ts), and the next training reads them. A batch is all or nothing and
// audited ("movies.put").
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { BEARER } from "../api/routes.ts";
import { actorOf } from "../auth/principal.ts";
import { limitBody } from "../body-limit.ts";
import { invalidateCatalogue } from "../catalogue/live.ts";
import { putMovies } from "../catalogue/store.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { cache } from "../middleware.ts";
import { requireJson, validationHook } from "../validation.ts";
import { adminOnly } from "./admin-only.ts";

/** Movies one request may add or update. */
export const MAX_MOVIES = 500;

const ErrorBody = z.object({ error: z.string(), message: z.string() }).openapi("Error");
const errors = {
  400: { content: { "application/json": { schema: ErrorBody } }, description: "a movie is malformed (the message names it); nothing is stored" },
  401: { content: { "application/json": { schema: ErrorBody } }, description: "no valid bearer token" },
  403: { content: { "application/json": { schema: ErrorBody } }, description: "not the admin token" },
  503: { content: { "application/json": { schema: ErrorBody } }, description: "D1 is not available; nothing is stored" },
};

const got = (input: unknown): string => JSON.stringify(input ?? "");

const MovieInput = z
  .strictObject(
    {
      movieId: z
        .int({ error: (i) => `must be a positive integer, got ${got(i.input)}` })
        .min(1, { error: (i) => `must be a positive integer, got ${got(i.input)}` })
        .max(999_999_999, { error: (i) => `must be at most 999999999, got ${got(i.input)}` })
        .openapi({ description: "The movie's id (a MovieLens id for a correction, a new id for a new movie).", example: 200001 }),
      title: z
        .string({ error: (i) => `must be a title like "Heat (1995)", got ${got(i.input)}` })
        .trim()
        .regex(/^\S.{0,199} \((18|19|20)\d\d\)$/, {
          error: (i) => `must be a title followed by its year in parentheses, like "Heat (1995)" (at most 200 characters before the year), got ${got(i.input)}`,
        })
        .openapi({ description: 'Title and year, MovieLens style: "Title (1999)".', example: "Dune: Part Two (2024)" }),
      genres: z
        .array(
          z
            .string({ error: (i) => `must be a genre name, got ${got(i.input)}` })
            .regex(/^[A-Za-z][A-Za-z' -]{0,39}$/, { error: (i) => `must be a genre name of letters (at most 40), like "Sci-Fi", got ${got(i.input)}` }),
          { error: (i) => `must be an array of genre names, like ["Action", "Sci-Fi"], got ${got(i.input)}` },
        )
        .max(20, { error: (i) => `must hold at most 20 genres, got ${Array.isArray(i.input) ? i.input.length : got(i.input)}` })
        .openapi({ description: "Genre names (MovieLens's, e.g. Action, Sci-Fi); placed by them before anyone rates it.", example: ["Action", "Sci-Fi"] }),
    },
    {
      error: (i) =>
        i.code === "unrecognized_keys"
          ? `has an unknown field "${i.keys[0]}" (allowed: movieId, title, genres)`
          : `must be an object like {"movieId": 200001, "title": "Dune: Part Two (2024)", "genres": ["Sci-Fi"]}`,
    },
  )
  .openapi("MovieInput");

const count = (i: { input?: unknown }) => `must hold 1 to ${MAX_MOVIES} movies, got ${Array.isArray(i.input) ? i.input.length : got(i.input)}`;
const MoviesBody = z
  .strictObject(
    {
      movies: z
        .array(MovieInput, { error: () => `must be an array of {"movieId", "title", "genres"}` })
        .min(1, { error: count })
        .max(MAX_MOVIES, { error: count }),
    },
    { error: `the body must be a JSON object with a "movies" array` },
  )
  .openapi("MoviesBody", { example: { movies: [{ movieId: 200001, title: "Dune: Part Two (2024)", genres: ["Action", "Sci-Fi"] }] } });

const CatalogueMovie = z
  .object({
    movieId: z.number(),
    title: z.string(),
    year: z.number().nullable(),
    genres: z.array(z.string()),
    addedAt: z.number().openapi({ description: "unix seconds of the first add" }),
    updatedAt: z.number().openapi({ description: "unix seconds of the latest change" }),
  })
  .openapi("CatalogueMovie");

export const putMoviesRoute = createRoute({
  method: "post",
  path: "/movies",
  summary: "Add or update movies in the live catalogue (admin)",
  description: `1 to ${MAX_MOVIES} movies, all stored or none (a movie given twice is refused). Searchable at once; a movie the served model does not have is recommended by item fold-in from its raters, or its genres before anyone rated it; the next training includes it. Audited.`,
  tags: ["admin"],
  security: [{ [BEARER]: [] }],
  request: { body: { content: { "application/json": { schema: MoviesBody } }, required: true } },
  responses: {
    200: {
      content: { "application/json": { schema: z.object({ stored: z.number(), movies: z.array(CatalogueMovie) }) } },
      description: "what is stored now, by id",
    },
    ...errors,
  },
});

export const adminMovies = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminMovies.use("/movies", adminOnly);
adminMovies.use("/movies", cache("no-store"), limitBody, requireJson);

adminMovies.openapi(putMoviesRoute, async (c) => {
  const { movies } = c.req.valid("json");
  const first = new Map<number, number>();
  movies.forEach((m, i) => {
    const earlier = first.get(m.movieId);
    if (earlier !== undefined)
      throw new ApiError(400, "bad_request", `movies[${i}] repeats movie ${m.movieId} of movies[${earlier}]: give each movie once; nothing was stored`);
    first.set(m.movieId, i);
  });
  const stored = await putMovies(c.env.DB, movies, Math.floor(Date.now() / 1000), actorOf(c));
  invalidateCatalogue();
  return c.json({ stored: stored.length, movies: stored }, 200);
});
