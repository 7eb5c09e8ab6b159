// The Hono app: CORS, optional bearer-token auth, the routes, JSON errors. createApp takes the
// model store it serves from; the Worker makes one per isolate (index.ts), tests make their own.
import { Hono } from "hono";
import { cors } from "hono/cors";
import { tokenWhenConfigured } from "./auth.ts";
import type { AppEnv } from "./env.ts";
import { ApiError, errorResponse } from "./errors.ts";
import { movies } from "./routes/movies.ts";
import { anonymous } from "./routes/anonymous.ts";
import { users } from "./routes/users.ts";
import { cache, withModel } from "./middleware.ts";
import { ModelStore } from "./model-store.ts";

export function createApp(store: ModelStore): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
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

  // With a token configured, /health (the one open route) says only that the service is up and
  // which model it serves.
  app.get("/health", withModel, cache("no-store"), (c) => {
    const model = c.var.model;
    // with a token, only what the page needs before it has one: the version, and whether the
    // model can list similar movies (the page hides its "Similar" buttons when it cannot)
    if (c.env.API_TOKEN) return c.json({ status: "ok", model: model.version, similar: model.similar !== null });
    return c.json({
      status: "ok",
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
    });
  });

  // Every route but /health needs the token when the API_TOKEN secret is set.
  app.use("*", tokenWhenConfigured);

  app.route("/users", users);
  app.route("/recs", anonymous);
  app.route("/movies", movies);

  app.notFound((c) => errorResponse(c, new ApiError(404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`)));
  app.onError((err, c) => errorResponse(c, err));
  return app;
}

/** The app over one model store per isolate, shared by every request the isolate serves. */
export const app = createApp(new ModelStore());
