// Every route of the public API as an OpenAPI definition: path, parameters, body, answers. The
// Worker implements them (../routes/*.ts, ../app.ts), /openapi.json publishes them, and the page
// calls them through hono/client with these types (./app-type.ts). Paths are relative to where
// the Worker mounts them (see MOUNTS in ./app-type.ts).
import { createRoute } from "@hono/zod-openapi";
import {
  DeletedRatingAnswer,
  DeletedUserAnswer,
  ErrorBody,
  HealthAnswer,
  HistoryBody,
  HistoryRecsAnswer,
  KQuery,
  RecsQuery,
  MovieAnswer,
  MovieIdParams,
  RatingsAnswer,
  RatingsBody,
  SearchAnswer,
  SearchQuery,
  SimilarAnswer,
  StoredAnswer,
  UserIdParams,
  UserMovieParams,
  UserRecsAnswer,
} from "./schemas.ts";

/** The name of the bearer-token security scheme in the document. */
export const BEARER = "bearerToken";

/** Alternatives, any one of which lets a request in ({} is: no credentials). */
type Security = Record<string, string[]>[];

/** Reads: the token is needed only when the Worker has one configured (API_TOKEN). */
const tokenWhenConfigured: Security = [{ [BEARER]: [] }, {}];
/** Writes and history reads: always a token (403 when the Worker has none). */
const tokenAlways: Security = [{ [BEARER]: [] }];

const json = <S>(schema: S, description: string) => ({ description, content: { "application/json": { schema } } });
const error = (description: string) => json(ErrorBody, description);

const badRequest = error("bad_request: a parameter or the body breaks its rule; the message names the field.");
const unauthorized = error(
  "unauthorized: the Worker has a token configured and the request has no `Authorization: Bearer <token>`, a malformed one, or a wrong token.",
);
const forbidden = error("forbidden: the Worker has no token configured, so writes and history reads are off.");
const noModel = error("no_model or model_unavailable: nothing is published yet, or the published model cannot be loaded right now.");
const tooLarge = error("payload_too_large: the body is over 1 MB.");

export const healthRoute = createRoute({
  method: "get",
  path: "/health",
  tags: ["service"],
  summary: "Whether the service is up, and which model it serves",
  description: "Open to all, even with a token configured; it then answers only status, model and similar.",
  security: [],
  responses: { 200: json(HealthAnswer, "The served model."), 503: noModel },
});

export const userRecsRoute = createRoute({
  method: "get",
  path: "/{id}/recs",
  tags: ["recommendations"],
  summary: "Recommendations for a user",
  description:
    "Top k movies for a user the model knows (its trained vector, plus its live ratings), or for any id with live ratings (folded in); an id with nothing the model can rank from gets the cold-start list (source popular). Every rated movie is excluded, including those the model does not know (counted in ignored). The filters (genres, excludeGenres, yearMin, yearMax, exclude, include) mask the catalogue before the top k, so every movie answered passes them and k come back whenever k pass; diversity re-ranks the best 100 (docs/rules.md). Server-Timing says where the time went.",
  security: tokenWhenConfigured,
  request: { params: UserIdParams, query: RecsQuery },
  responses: {
    200: json(UserRecsAnswer, "Best first, each with the liked movie it is most similar to."),
    400: badRequest,
    401: unauthorized,
    404: error("no_foldin: the model cannot fold in a user's live ratings."),
    503: noModel,
  },
});

export const postRatingsRoute = createRoute({
  method: "post",
  path: "/{id}/ratings",
  tags: ["ratings"],
  summary: "Store a user's ratings",
  description:
    "Stores 1 to 1000 ratings in one all-or-nothing write; a later rating of a movie replaces the earlier one. A movie the served model does not know is stored too: it counts as watched, and a later model may know it.",
  security: tokenAlways,
  request: { params: UserIdParams, body: { required: true, content: { "application/json": { schema: RatingsBody } } } },
  responses: {
    200: json(StoredAnswer, "What was stored."),
    400: error("bad_request: a malformed entry, named. Nothing is stored."),
    401: unauthorized,
    403: forbidden,
    413: tooLarge,
    503: noModel,
  },
});

export const getRatingsRoute = createRoute({
  method: "get",
  path: "/{id}/ratings",
  tags: ["ratings"],
  summary: "A user's live ratings",
  description: "The ratings posted since the model was trained (not the training history).",
  security: tokenAlways,
  request: { params: UserIdParams },
  responses: { 200: json(RatingsAnswer, "Newest first."), 400: badRequest, 401: unauthorized, 403: forbidden },
});

export const deleteRatingRoute = createRoute({
  method: "delete",
  path: "/{id}/ratings/{movieId}",
  tags: ["ratings"],
  summary: "Delete one live rating",
  security: tokenAlways,
  request: { params: UserMovieParams },
  responses: { 200: json(DeletedRatingAnswer, "Whether there was one."), 400: badRequest, 401: unauthorized, 403: forbidden },
});

export const deleteUserRoute = createRoute({
  method: "delete",
  path: "/{id}",
  tags: ["ratings"],
  summary: "Delete all of a user's live ratings",
  security: tokenAlways,
  request: { params: UserIdParams },
  responses: { 200: json(DeletedUserAnswer, "How many were deleted."), 400: badRequest, 401: unauthorized, 403: forbidden },
});

export const historyRecsRoute = createRoute({
  method: "post",
  path: "/",
  tags: ["recommendations"],
  summary: "Recommendations for a history the caller keeps",
  description:
    "For a visitor who keeps their own history (an app, a browser): the history is folded in and excluded; nothing is stored. Movies the model does not know are excluded and left out of scoring (counted in ignored); a history with nothing the model can rank from (empty, low ratings only) gets the cold-start list (source popular). The body's filters and diversity work as in GET /users/{id}/recs.",
  security: tokenWhenConfigured,
  request: { body: { required: true, content: { "application/json": { schema: HistoryBody } } } },
  responses: {
    200: json(HistoryRecsAnswer, "Best first, each with the liked movie it is most similar to."),
    400: error("bad_request: a malformed entry (not a movie id, a rating out of range, a movie given twice with different ratings), named."),
    401: unauthorized,
    404: error("no_foldin: the model cannot fold in a history."),
    413: tooLarge,
    503: noModel,
  },
});

export const searchRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["movies"],
  summary: "Search titles",
  description:
    "Case- and accent-insensitive title search: titles that start with q first, then a word that starts with it, then anywhere; ties to the more popular movie.",
  security: tokenWhenConfigured,
  request: { query: SearchQuery },
  responses: { 200: json(SearchAnswer, "At most limit movies; none is an empty list."), 400: badRequest, 401: unauthorized, 503: noModel },
});

export const movieRoute = createRoute({
  method: "get",
  path: "/{id}",
  tags: ["movies"],
  summary: "A movie's metadata",
  security: tokenWhenConfigured,
  request: { params: MovieIdParams },
  responses: { 200: json(MovieAnswer, "The movie."), 400: badRequest, 401: unauthorized, 404: error("unknown_movie: not in the served model."), 503: noModel },
});

export const similarRoute = createRoute({
  method: "get",
  path: "/{id}/similar",
  tags: ["movies"],
  summary: "Movies similar to a movie",
  description: "Nearest movies by the cosine of the model's item embeddings, the movie itself excluded.",
  security: tokenWhenConfigured,
  request: { params: MovieIdParams, query: KQuery },
  responses: {
    200: json(SimilarAnswer, "Most similar first."),
    400: badRequest,
    401: unauthorized,
    404: error("unknown_movie, or no_similar: the served model has no item embeddings."),
    503: noModel,
  },
});
