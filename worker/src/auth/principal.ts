// Who is calling: the admin (the API_TOKEN secret), one user (an HS256 JWT signed with
// USER_TOKEN_SECRET, `sub` = the user id), or an anonymous caller (no Authorization header).
// A header that is present but not `Bearer <token>`, or a token that checks out as neither,
// answers 401: a caller who meant to authenticate is never silently served as anonymous.
import type { Context, MiddlewareHandler } from "hono";
import { verify } from "hono/jwt";
import { USER_TOKEN_ALG } from "../../../training/src/contract/user-token.ts";
import { ApiError } from "../errors.ts";
import { type TrustEnv, trustEnv } from "../security/settings.ts";

export type Principal = { role: "admin" } | { role: "user"; userId: number } | { role: "anonymous" };

declare module "hono" {
  interface ContextVariableMap {
    principal: Principal;
  }
}

const ANONYMOUS: Principal = { role: "anonymous" };
const ADMIN: Principal = { role: "admin" };

const unauthorized = (message: string) => new ApiError(401, "unauthorized", message);

/** The caller, as authenticate set it (anonymous before it ran). */
export function principalOf(c: Context): Principal {
  return c.get("principal") ?? ANONYMOUS;
}

/** "admin", "user:42" or "anonymous": who did something, for the audit log. */
export function actorOf(c: Context): string {
  const p = principalOf(c);
  return p.role === "user" ? `user:${p.userId}` : p.role;
}

/** Constant-time comparison of two strings (as bytes), so response times say nothing about the token. */
async function sameSecret(a: string, b: string): Promise<boolean> {
  const enc = new TextEncoder();
  const [x, y] = await Promise.all([crypto.subtle.digest("SHA-256", enc.encode(a)), crypto.subtle.digest("SHA-256", enc.encode(b))]);
  const u = new Uint8Array(x);
  const v = new Uint8Array(y);
  let diff = 0;
  for (let i = 0; i < u.length; i++) diff |= u[i] ^ v[i];
  return diff === 0;
}

/** The user id a verified token names, or a 401 saying what was wrong with it. */
async function userOf(token: string, secret: string): Promise<number> {
  let payload: Record<string, unknown>;
  try {
    payload = await verify(token, secret, USER_TOKEN_ALG);
  } catch (err) {
    const name = (err as Error)?.name ?? "";
    if (name === "JwtTokenExpired") throw unauthorized("the user token has expired: ask for a new one (POST /admin/tokens, or npm run token)");
    throw unauthorized("the bearer token is not valid");
  }
  const sub = payload.sub;
  const id = typeof sub === "string" && /^[0-9]{1,15}$/.test(sub) ? Number(sub) : Number.NaN;
  // a token without an expiry would be good for ever: refused even if correctly signed
  if (!(Number.isSafeInteger(id) && id >= 1) || typeof payload.exp !== "number") throw unauthorized("the user token names no user or has no expiry");
  return id;
}

export async function identify(env: TrustEnv, header: string | undefined): Promise<Principal> {
  if (header === undefined) return ANONYMOUS;
  const m = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/.exec(header);
  if (!m) throw unauthorized("the Authorization header must be `Bearer <token>`");
  const token = m[1];
  if (env.API_TOKEN && (await sameSecret(token, env.API_TOKEN))) return ADMIN;
  // only something shaped like a JWT is worth verifying
  if (env.USER_TOKEN_SECRET && token.split(".").length === 3) return { role: "user", userId: await userOf(token, env.USER_TOKEN_SECRET) };
  throw unauthorized("the bearer token is not valid");
}

/** Sets c.var.principal from the Authorization header (CORS preflights carry none and are let through). */
export const authenticate: MiddlewareHandler = async (c, next) => {
  if (c.req.method === "OPTIONS") return next();
  c.set("principal", await identify(trustEnv(c), c.req.header("authorization")));
  return next();
};
