// The Hono app: CORS for GET, optional bearer-token auth, the routes, JSON errors.
import { Hono } from "hono";
import { cors } from "hono/cors";
import { tokenWhenConfigured } from "./auth.ts";
import type { AppEnv } from "./env.ts";
import { ApiError, errorResponse } from "./errors.ts";
import { movies } from "./routes/movies.ts";
import { anonymous } from "./routes/anonymous.ts";
import { users } from "./routes/users.ts";
import { store } from "./store.ts";

export const app = new Hono<AppEnv>();

app.use("*", cors({
  origin: "*",
  allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
  allowHeaders: ["Authorization", "Content-Type"],
  exposeHeaders: ["x-model-version", "x-live-history"],
  maxAge: 86400,
}));

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
app.use("*", tokenWhenConfigured);

app.route("/users", users);
app.route("/recs", anonymous);
app.route("/movies", movies);

app.notFound((c) => errorResponse(c, new ApiError(404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`)));
app.onError((err, c) => errorResponse(c, err));
