// The Hono app: secure headers and CORS, tokens, roles and rate limits (auth.ts), the routes,
// JSON errors. createApp takes the model store it serves from; the Worker makes one per isolate
// (index.ts), tests make their own.
import { Hono } from "hono";
import { tokenWhenConfigured } from "./auth.ts";
import type { AppEnv } from "./env.ts";
import { ApiError, errorResponse } from "./errors.ts";
import { admin } from "./routes/admin.ts";
import { movies } from "./routes/movies.ts";
import { anonymous } from "./routes/anonymous.ts";
import { users } from "./routes/users.ts";
import { cache } from "./middleware.ts";
import { ModelStore } from "./model-store.ts";
import { corsAllowlist, securityHeaders } from "./security/headers.ts";
import { health } from "./security/health.ts";

export function createApp(store: ModelStore): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use("*", async (c, next) => {
    c.set("store", store);
    await next();
  });
  app.use("*", securityHeaders, corsAllowlist);

  // the model's and D1's state; with a secret configured, only what the page needs (security/health.ts)
  app.get("/health", cache("no-store"), health);

  // Every route but /health: who is calling, their rate limit, what their role allows (auth.ts).
  app.use("*", tokenWhenConfigured);

  app.route("/users", users);
  app.route("/recs", anonymous);
  app.route("/movies", movies);
  app.route("/admin", admin);

  app.notFound((c) => errorResponse(c, new ApiError(404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`)));
  app.onError((err, c) => errorResponse(c, err));
  return app;
}

/** The app over one model store per isolate, shared by every request the isolate serves. */
export const app = createApp(new ModelStore());
