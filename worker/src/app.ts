// The Hono app: CORS, optional bearer-token auth, the routes, JSON errors, and the OpenAPI
// document of it all at /openapi.json (interactive docs: /docs, static assets). Every route is
// defined in api/routes.ts with its zod schemas; createApp takes the model store it serves from:
// the Worker makes one per isolate (index.ts), tests make their own.
import { OpenAPIHono } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import type { ApiSchema, SchemaOf } from "./api/app-type.ts";
import { BEARER, healthRoute } from "./api/routes.ts";
import { tokenWhenConfigured } from "./auth.ts";
import type { AppEnv } from "./env.ts";
import { ApiError, errorResponse } from "./errors.ts";
import { cache, route, withModel } from "./middleware.ts";
import { ModelStore } from "./model-store.ts";
import { anonymous } from "./routes/anonymous.ts";
import { movies } from "./routes/movies.ts";
import { users } from "./routes/users.ts";
import { validationHook } from "./validation.ts";

export type { AppType } from "./api/app-type.ts";

const DESCRIPTION = `Movie recommendations from a model trained on MovieLens, served by a Cloudflare Worker.

Every error is JSON \`{"error": code, "message": text}\` with the HTTP status. With a token configured on the Worker (the API_TOKEN secret), every route but /health and /openapi.json needs \`Authorization: Bearer <token>\`; without one, reads are open and writes answer 403. See docs/api.md.`;

export function createApp(store: ModelStore) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.use("*", async (c, next) => {
    c.set("store", store);
    await next();
  });
  app.use(
    "*",
    cors({
      origin: "*",
      allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
      allowHeaders: ["Authorization", "Content-Type"],
      exposeHeaders: ["x-model-version", "x-live-history"],
      maxAge: 86400,
    }),
  );

  app.openAPIRegistry.registerComponent("securitySchemes", BEARER, {
    type: "http",
    scheme: "bearer",
    description: "The Worker's API_TOKEN secret. Needed by every route but /health when one is configured; always needed by ratings routes.",
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
    ],
  });

  // With a token configured, /health (the one open route) says only that the service is up and
  // which model it serves.
  const routes = app
    .openapi(
      ...route(healthRoute, [withModel, cache("no-store")], (c) => {
        const model = c.var.model;
        // serving an earlier version than the published one: said, with why, so monitoring sees it
        const degraded = c.var.store.degraded;
        const state = degraded ? { status: "degraded" as const, reason: degraded.reason, wanted: degraded.wanted } : { status: "ok" as const };
        // with a token, only what the page needs before it has one: the version, and whether the
        // model can list similar movies (the page hides its "Similar" buttons when it cannot)
        if (c.env.API_TOKEN) return c.json({ ...state, model: model.version, similar: model.similar !== null }, 200);
        return c.json(
          {
            ...state,
            model: model.version,
            name: model.manifest.model,
            dataset: model.manifest.dataset,
            users: model.manifest.users,
            items: model.manifest.items,
            dim: model.manifest.dim,
            foldin: model.manifest.foldin ?? null,
            recs: model.recsFrom,
            // what ranks: model.onnx in onnxruntime-web, or vector.onnx then the Worker's int8 kernel
            ranker: model.ranker.kind,
            similar: model.similar !== null,
            loadedAt: model.loadedAt,
          },
          200,
        );
      }),
    )
    // Every route below needs the token when the API_TOKEN secret is set.
    .use("*", tokenWhenConfigured)
    .route("/users", users)
    .route("/recs", anonymous)
    .route("/movies", movies);

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
