// Who may call what. With API_TOKEN set, every route but /health needs the bearer token.
// Writes and history reads need it always: without a configured token they answer 403, so
// they are never open to anonymous callers.
import type { MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import type { AppEnv } from "./env.ts";
import { ApiError } from "./errors.ts";

export const tokenWhenConfigured: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = c.env.API_TOKEN;
  if (!token || c.req.method === "OPTIONS") return next();
  const auth = bearerAuth({
    token,
    noAuthenticationHeader: { message: { error: "unauthorized", message: "this API needs an Authorization: Bearer <token> header" } },
    invalidAuthenticationHeader: {
      message: () => Response.json({ error: "unauthorized", message: "the Authorization header must be `Bearer <token>`" }, { status: 401 }),
    },
    invalidToken: { message: { error: "unauthorized", message: "the bearer token is not valid" } },
  });
  return auth(c as never, next);
};

export const tokenRequired: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!c.env.API_TOKEN) {
    throw new ApiError(
      403,
      "forbidden",
      "writes and history reads need an API token, and this Worker has none: set one with `npx wrangler secret put API_TOKEN` (locally: API_TOKEN=... in .dev.vars, which npm start writes), then send `Authorization: Bearer <token>`",
    );
  }
  await next();
};
