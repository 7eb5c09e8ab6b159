// The trust settings a deploy chooses (wrangler.toml [vars], secrets, [[ratelimits]] bindings),
// read in one place with their defaults. See docs/trust.md.
import type { Context } from "hono";
import type { Env } from "../env.ts";
import { log } from "../log.ts";

export interface TrustBindings {
  /** Secret: signs and verifies per-user tokens (HS256). Unset: no user token is valid. */
  USER_TOKEN_SECRET?: string;
  /** "off" (default): anonymous GET /users/:id/recs answers 401; "no-reasons": allowed, without reasons, unknown ids answered like known ones; "open": development only, see publicRecs. */
  PUBLIC_RECS?: string;
  /** Origins allowed to call the API from a browser: "*" or a comma-separated list ("" allows none). */
  CORS_ORIGINS?: string;
  /** Most live ratings stored per user (default 10,000). */
  RATINGS_QUOTA?: string;
  /** Most events stored per user (default 100,000), for the events table once it exists. */
  EVENTS_QUOTA?: string;
  /** Rate Limiting bindings ([[ratelimits]]): GETs, writes, POST /recs. Unbound: not limited. */
  READ_LIMITER?: RateLimit;
  WRITE_LIMITER?: RateLimit;
  RECS_LIMITER?: RateLimit;
}

export type TrustEnv = Env & TrustBindings;

export function trustEnv(c: Context): TrustEnv {
  return c.env as TrustEnv;
}

/** A token of some kind can be checked: without either secret every caller is anonymous. */
export function secured(env: TrustEnv): boolean {
  return Boolean(env.API_TOKEN || env.USER_TOKEN_SECRET);
}

export type PublicRecs = "off" | "no-reasons" | "open";

/**
 * What anonymous GET /users/:id/recs may see. "open" (the behaviour before per-user tokens, kept
 * for the tests and a Worker run with no secrets at all) is honoured only while no secret is set:
 * a Worker that can tell users apart never shows one user's reasons to anybody. Anything else
 * unknown falls back to "off": a typo must not open the API.
 */
export function publicRecs(env: TrustEnv): PublicRecs {
  const v = (env.PUBLIC_RECS ?? "off").trim();
  if (v === "no-reasons") return "no-reasons";
  if (v === "open") return secured(env) ? "off" : "open";
  if (v !== "off") log.warn(`PUBLIC_RECS=${JSON.stringify(v)} is not off, no-reasons or open: treated as off`);
  return "off";
}

export const QUOTA_DEFAULTS = { RATINGS_QUOTA: 10_000, EVENTS_QUOTA: 100_000 } as const;

/** A positive integer var, or its default when unset or not one (logged: a typo must not lift the quota). */
export function quota(env: TrustEnv, name: keyof typeof QUOTA_DEFAULTS): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return QUOTA_DEFAULTS[name];
  const n = Number(raw);
  if (Number.isSafeInteger(n) && n > 0) return n;
  log.warn(`${name}=${JSON.stringify(raw)} is not a positive integer: using ${QUOTA_DEFAULTS[name]}`);
  return QUOTA_DEFAULTS[name];
}
