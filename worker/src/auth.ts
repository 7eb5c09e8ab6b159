// Who may call what (docs/trust.md). Every route but /health runs through tokenWhenConfigured:
// the caller is identified (admin token, a user's token, or anonymous; a malformed or invalid
// Authorization header answers 401), charged against its rate limit, then let through only to
// what its role allows. Writes and history reads also carry tokenRequired: with no secret
// configured at all they answer 403 with the fix, never open to anonymous callers.
import type { MiddlewareHandler } from "hono";
import { every } from "hono/combine";
import { authorize } from "./auth/access.ts";
import { authenticate, principalOf } from "./auth/principal.ts";
import type { AppEnv } from "./env.ts";
import { ApiError } from "./errors.ts";
import { rateLimit } from "./limits/rate.ts";
import { secured, trustEnv } from "./security/settings.ts";

export const tokenWhenConfigured: MiddlewareHandler<AppEnv> = every(authenticate, rateLimit, authorize);

export const tokenRequired: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (principalOf(c).role !== "anonymous") return next();
  if (secured(trustEnv(c)))
    throw new ApiError(401, "unauthorized", "this route needs an Authorization: Bearer <token> header (the user's token, or the admin token)");
  throw new ApiError(
    403,
    "forbidden",
    "writes and history reads need a token, and this Worker has none: set one with `npx wrangler secret put API_TOKEN` (admin) and `npx wrangler secret put USER_TOKEN_SECRET` (user tokens; locally: .dev.vars, which npm start writes), then send `Authorization: Bearer <token>`",
  );
};
