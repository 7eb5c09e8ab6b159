// The type of the public API for hono/client (`hc<AppType>`), computed from the route
// definitions alone: importing the Worker's app would pull its runtime (R2, D1, onnxruntime)
// into the page's type check. Nothing here exists at run time (declare const, import type), so a
// bundle that imports this type gets none of the Worker. app.ts checks that the app it builds
// serves exactly these routes with these types, so this cannot drift from the Worker.
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Hono, Schema } from "hono";
import type { BlankEnv, BlankSchema } from "hono/types";
import type * as api from "./routes.ts";

/** The route table of an app type: path -> method -> input and output. */
export type SchemaOf<A> = A extends Hono<infer _E, infer S extends Schema, infer _B> ? S : never;

// one app per mount point (app.ts mounts the route files there)
declare const root: OpenAPIHono<BlankEnv, BlankSchema, "/">;
declare const users: OpenAPIHono<BlankEnv, BlankSchema, "/users">;
declare const recs: OpenAPIHono<BlankEnv, BlankSchema, "/recs">;
declare const movies: OpenAPIHono<BlankEnv, BlankSchema, "/movies">;

type Health = SchemaOf<ReturnType<typeof root.openapi<typeof api.healthRoute>>>;
type UserRecs = SchemaOf<ReturnType<typeof users.openapi<typeof api.userRecsRoute>>>;
type PostRatings = SchemaOf<ReturnType<typeof users.openapi<typeof api.postRatingsRoute>>>;
type GetRatings = SchemaOf<ReturnType<typeof users.openapi<typeof api.getRatingsRoute>>>;
type DeleteRating = SchemaOf<ReturnType<typeof users.openapi<typeof api.deleteRatingRoute>>>;
type DeleteUser = SchemaOf<ReturnType<typeof users.openapi<typeof api.deleteUserRoute>>>;
type HistoryRecs = SchemaOf<ReturnType<typeof recs.openapi<typeof api.historyRecsRoute>>>;
type Search = SchemaOf<ReturnType<typeof movies.openapi<typeof api.searchRoute>>>;
type MovieById = SchemaOf<ReturnType<typeof movies.openapi<typeof api.movieRoute>>>;
type Similar = SchemaOf<ReturnType<typeof movies.openapi<typeof api.similarRoute>>>;

export type ApiSchema = Health & UserRecs & PostRatings & GetRatings & DeleteRating & DeleteUser & HistoryRecs & Search & MovieById & Similar;

/** The public API as hono/client sees it. */
export type AppType = OpenAPIHono<BlankEnv, ApiSchema, "/">;
