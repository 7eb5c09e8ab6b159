// Who may call what, decided once for every route (docs/trust.md):
// - admin (API_TOKEN): everything;
// - a user token: its own /users/:id/... (recommendations with reasons, ratings, events,
//   deletion), and the routes about no user (movies, POST /recs); 403 for anyone else's id and
//   for /admin;
// - anonymous: with a secret configured, only /health and, when PUBLIC_RECS allows it, GET
//   /users/:id/recs (answered by public-recs.ts: no reasons, unknown ids like known ones); with
//   no secret at all, the routes about no user, and writes answer 403 with a hint (tokenRequired).
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { publicRecs, secured, trustEnv } from "../security/settings.ts";
import { principalOf } from "./principal.ts";
import { answerPublicRecs } from "./public-recs.ts";

/** The id segment of /users/:id[/...], as the route's validator reads it; null for other paths or non-numeric ids. */
export function pathUserId(path: string): number | null {
  const m = /^\/users\/([0-9]{1,9})(?:\/|$)/.exec(path);
  return m ? Number(m[1]) : null;
}

const NEEDS_TOKEN = "this API needs an Authorization: Bearer <token> header (a user token, or the admin token)";

function deny(c: Context, what: string): ApiError {
  const p = principalOf(c);
  if (p.role === "anonymous") return new ApiError(401, "unauthorized", `${what}: ${NEEDS_TOKEN}`);
  return new ApiError(403, "forbidden", `${what}: this token is for user ${p.role === "user" ? p.userId : "?"}`);
}

export const authorize: MiddlewareHandler<AppEnv> = async (c, next) => {
  const method = c.req.method;
  if (method === "OPTIONS") return next();
  const env = trustEnv(c);
  const p = principalOf(c);
  if (p.role === "admin") return next();
  const path = c.req.path;

  if (path === "/admin" || path.startsWith("/admin/")) throw deny(c, "the /admin routes are for the admin token only");

  const isUsers = path.startsWith("/users/");
  const userId = isUsers ? pathUserId(path) : null;
  if (p.role === "user") {
    // a non-numeric id reaches the route, whose validator answers 400: nothing of anyone's is read
    if (isUsers && userId !== null && userId !== p.userId) throw deny(c, `user ${userId}'s data is not this token's`);
    return next();
  }

  // anonymous
  // (a bad id or k is answered by the route's validators: 400, as for everyone)
  const isPublicRecs = method === "GET" && /^\/users\/[^/]+\/recs$/.test(path);
  if (isPublicRecs) {
    const mode = publicRecs(env);
    if (mode === "no-reasons") return answerPublicRecs(c, userId ?? 0, next);
    if (mode === "off") throw new ApiError(401, "unauthorized", `anonymous recommendation reads are off (PUBLIC_RECS=off): ${NEEDS_TOKEN}`);
    return next(); // "open": a Worker with no secrets, as before tokens
  }
  if (secured(env)) throw new ApiError(401, "unauthorized", NEEDS_TOKEN);
  // no secret at all: the route decides (public routes answer, writes and history reads 403 in tokenRequired)
  return next();
};
