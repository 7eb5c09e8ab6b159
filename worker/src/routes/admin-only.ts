// Defence in depth for the /admin routers: the global authorize middleware (auth/access.ts)
// already refuses non-admins there, but a router mounted elsewhere by mistake must not open up.
import { createMiddleware } from "hono/factory";
import { principalOf } from "../auth/principal.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";

export const adminOnly = createMiddleware<AppEnv>(async (c, next) => {
  const p = principalOf(c);
  if (p.role !== "admin")
    throw new ApiError(
      p.role === "anonymous" ? 401 : 403,
      p.role === "anonymous" ? "unauthorized" : "forbidden",
      "the /admin routes are for the admin token only",
    );
  await next();
});
