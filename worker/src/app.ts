// The Hono app: CORS for GET, optional bearer-token auth, the routes, JSON errors.
import { Hono } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { cors } from "hono/cors";
import type { AppEnv } from "./env.ts";
import { ApiError, errorResponse } from "./errors.ts";
import { movies } from "./routes/movies.ts";
import { recs } from "./routes/recs.ts";
import { store } from "./store.ts";

export const app = new Hono<AppEnv>();

app.use("*", cors({ origin: "*", allowMethods: ["GET", "OPTIONS"], allowHeaders: ["Authorization"], exposeHeaders: ["x-model-version"], maxAge: 86400 }));

app.get("/health", async (c) => {
  const model = await store.get(c.env);
  c.header("cache-control", "no-store");
  c.header("x-model-version", model.version);
  return c.json({
    status: "ok",
    model: model.version,
    name: model.manifest.model,
    dataset: model.manifest.dataset,
    users: model.manifest.users,
    items: model.manifest.items,
    dim: model.manifest.dim,
    loadedAt: model.loadedAt,
  });
});

// Every route but /health needs the token when the API_TOKEN secret is set.
app.use("*", async (c, next) => {
  const token = c.env.API_TOKEN;
  if (!token || c.req.method === "OPTIONS") return next();
  const auth = bearerAuth({
    token,
    noAuthenticationHeader: { message: { error: "unauthorized", message: "this API needs an Authorization: Bearer <token> header" } },
    invalidAuthenticationHeader: { message: { error: "unauthorized", message: "the Authorization header must be `Bearer <token>`" } },
    invalidToken: { message: { error: "unauthorized", message: "the bearer token is not valid" } },
  });
  return auth(c as never, next);
});

app.route("/users", recs);
app.route("/movies", movies);

app.notFound((c) => errorResponse(c, new ApiError(404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`)));
app.onError((err, c) => errorResponse(c, err));
