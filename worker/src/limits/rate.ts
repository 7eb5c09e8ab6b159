// Request rates, through Cloudflare's Rate Limiting bindings ([[ratelimits]] in wrangler.toml;
// simulated by Miniflare under `wrangler dev` and in the Vitest integration). Three budgets,
// counted separately: reads (GET), writes (POST/PUT/PATCH/DELETE), and POST /recs (a ranking per
// call, the costliest). Each is counted per user token, or per client address (CF-Connecting-IP,
// set by Cloudflare's edge) for anonymous calls. The admin token is not limited (it is the
// operator), nor is a request that did not come through the edge (no CF-Connecting-IP: tests,
// service bindings). Over budget: 429 with Retry-After and the usual error JSON.
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../env.ts";
import { ApiError, errorResponse } from "../errors.ts";
import { principalOf } from "../auth/principal.ts";
import { type TrustBindings, trustEnv } from "../security/settings.ts";
import { log } from "../log.ts";

export type RateClass = "read" | "write" | "recs";

const BINDING: Record<RateClass, keyof TrustBindings> = { read: "READ_LIMITER", write: "WRITE_LIMITER", recs: "RECS_LIMITER" };
const WHAT: Record<RateClass, string> = { read: "reads", write: "writes", recs: "POST /recs calls" };
/** Every [[ratelimits]] binding here counts per 60 s window (Cloudflare allows 10 or 60). */
export const RATE_PERIOD_SECONDS = 60;

export function rateClass(method: string, path: string): RateClass | null {
  if (method === "OPTIONS") return null;
  if (method === "GET" || method === "HEAD") return "read";
  if (method === "POST" && (path === "/recs" || path === "/recs/")) return "recs";
  return "write";
}

/** Whose budget a request spends: "user:42", "ip:203.0.113.9", or null (not limited). */
export function rateKey(c: Context): string | null {
  const p = principalOf(c);
  if (p.role === "admin") return null;
  if (p.role === "user") return `user:${p.userId}`;
  const ip = c.req.header("cf-connecting-ip")?.trim();
  return ip ? `ip:${ip}` : null;
}

/** Seconds until the current window ends (windows are aligned to the clock): when a retry can succeed. */
function retryAfter(now = Date.now()): number {
  return Math.max(1, Math.ceil(RATE_PERIOD_SECONDS - ((now / 1000) % RATE_PERIOD_SECONDS)));
}

export const rateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const cls = rateClass(c.req.method, c.req.path);
  const key = cls && rateKey(c);
  const limiter = cls && (trustEnv(c)[BINDING[cls]] as RateLimit | undefined);
  if (!cls || !key || !limiter) return next();
  let allowed = true;
  try {
    allowed = (await limiter.limit({ key })).success;
  } catch (err) {
    // the limiter itself failing must not take the API down: the request is served, and logged
    log.warn(`rate limiter ${BINDING[cls]} failed`, err);
  }
  if (allowed) return next();
  const wait = retryAfter();
  const res = errorResponse(
    c,
    new ApiError(429, "rate_limited", `too many ${WHAT[cls]} from ${key.startsWith("user:") ? "this user" : "this address"}: try again in ${wait} s`),
  );
  res.headers.set("retry-after", String(wait));
  return res;
};
