// The Hono app: secure headers and CORS (security/), tokens, roles and rate limits (auth.ts), the
// routes, JSON errors, and the OpenAPI document of it all at /openapi.json (interactive docs:
// /docs, static assets). Every route is defined in api/routes.ts with its zod schemas; createApp
// takes the model store it serves from: the Worker makes one per isolate (index.ts), tests make
// their own.
import { OpenAPIHono } from "@hono/zod-openapi";
import type { ApiSchema, SchemaOf } from "./api/app-type.ts";
import { BEARER, healthRoute } from "./api/routes.ts";
import { tokenWhenConfigured } from "./auth.ts";
import type { AppEnv } from "./env.ts";
import { ApiError, errorResponse } from "./errors.ts";
import { edge } from "./edge/index.ts";
import { cache, route } from "./middleware.ts";
import { ModelStore } from "./model-store.ts";
import { admin } from "./routes/admin.ts";
import { adminMetrics } from "./routes/admin-metrics.ts";
import { adminModels } from "./routes/admin-models.ts";
import { adminMovies } from "./routes/admin-movies.ts";
import { anonymous } from "./routes/anonymous.ts";
import { events } from "./routes/events.ts";
import { experiment } from "./routes/experiment.ts";
import { movies } from "./routes/movies.ts";
import { users } from "./routes/users.ts";
import { corsAllowlist, securityHeaders } from "./security/headers.ts";
import { health } from "./security/health.ts";
import { validationHook } from "./validation.ts";

export type { AppType } from "./api/app-type.ts";

const DESCRIPTION = `Movie recommendations from a model trained on MovieLens, served by a Cloudflare Worker.

Every error is JSON \`{"error": code, "message": text}\` with the HTTP status. The bearer token is the admin token (the API_TOKEN secret), or a user token (an HS256 JWT for one user: POST /admin/tokens) that reaches only that user's data. With a secret configured, every route but /health and /openapi.json needs one (anonymous GET /users/{id}/recs as PUBLIC_RECS says); without one, reads are open and writes answer 403. Too many requests: 429 with Retry-After. See docs/api.md and docs/trust.md.`;

export function createApp(store: ModelStore) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.use("*", async (c, next) => {
    c.set("store", store);
    await next();
  });
  app.use("*", securityHeaders, corsAllowlist, edge);

  app.openAPIRegistry.registerComponent("securitySchemes", BEARER, {
    type: "http",
    scheme: "bearer",
    description:
      "The admin token (the API_TOKEN secret), or a user token for that user's routes. Needed by every route but /health when a secret is configured; always needed by ratings routes.",
  });
  // The description of the API is no secret: open like /health, so /docs works before a token is entered.
  app.use("/openapi.json", cache("public, max-age=300"));
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: "edgerec", version: "1", description: DESCRIPTION },
    tags: [
      { name: "recommendations", description: "Movies for a user or a history, best first, each with a reason." },
      { name: "movies", description: "The served model's catalogue." },
      { name: "ratings", description: "Live ratings in D1: what users rated after the model was trained." },
      { name: "service", description: "Whether the service is up." },
      { name: "admin", description: "The admin token only: user tokens, the audit trail, forgotten users (docs/trust.md)." },
      { name: "loop", description: "Events about served lists, online metrics and the A/B experiment (docs/loop.md)." },
    ],
  });

  // the model's and D1's state; with a secret configured, only what the page needs (security/health.ts)
  const routes = app
    .openapi(...route(healthRoute, [cache("no-store")], health))
    // Every route below: who is calling, their rate limit, what their role allows (auth.ts).
    .use("*", tokenWhenConfigured)
    .route("/users", users)
    .route("/recs", anonymous)
    .route("/movies", movies)
    // the feedback loop (docs/loop.md)
    .route("/events", events)
    .route("/admin", adminMetrics)
    .route("/admin", experiment);
  // (mounted outside the typed chain: the page's client has no use for tokens, audit, forgetting, models)
  app.route("/admin", admin);
  app.route("/admin", adminModels);
  app.route("/admin", adminMovies);

  app.notFound((c) => errorResponse(c, new ApiError(404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`)));
  app.onError((err, c) => errorResponse(c, err));
  return routes;
}

/**
 * Compiles only when the app serves every route the page types against (api/app-type.ts), with
 * the same parameters and answers: the contract cannot drift from the Worker. (Hono keeps the
 * route table of mounted apps as a union, one member per mount: merged into one table first.)
 */
type OneTable<U> = (U extends unknown ? (table: U) => void : never) extends (table: infer T) => void ? T : never;
type Served = Pick<OneTable<SchemaOf<ReturnType<typeof createApp>>>, keyof ApiSchema>;
export type ServesTheApi = [Served] extends [ApiSchema] ? ([ApiSchema] extends [Served] ? true : never) : never;
export const servesTheApi: ServesTheApi = true;

/** The app over one model store per isolate, shared by every request the isolate serves. */
export const app = createApp(new ModelStore());
