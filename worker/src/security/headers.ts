// Response headers every Worker answer carries: secure headers (hono/secure-headers) and CORS
// from an allowlist (hono/cors, CORS_ORIGINS). The page's own files are Workers static assets,
// answered before the Worker runs: their headers come from a _headers file (docs/trust.md).
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "../env.ts";
import { trustEnv } from "./settings.ts";

/**
 * The Content-Security-Policy: scripts, styles and everything else from this origin only, no
 * inline script, never framed. API answers are JSON, which no browser executes; the policy
 * matters for any HTML the Worker serves.
 */
export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

export const securityHeaders: MiddlewareHandler<AppEnv> = secureHeaders({
  contentSecurityPolicy: CONTENT_SECURITY_POLICY,
  xFrameOptions: "DENY",
  xContentTypeOptions: "nosniff",
  referrerPolicy: "no-referrer",
  strictTransportSecurity: "max-age=31536000; includeSubDomains",
});

/** CORS_ORIGINS parsed: "*" (any origin), or the list of exact origins (empty: none). */
export function allowedOrigins(value: string | undefined): "*" | Set<string> {
  const v = (value ?? "*").trim();
  if (v === "*") return "*";
  return new Set(
    v
      .split(",")
      .map((o) => o.trim().replace(/\/+$/, ""))
      .filter(Boolean),
  );
}

const parsed = new Map<string, "*" | Set<string>>();

export const corsAllowlist: MiddlewareHandler<AppEnv> = cors({
  origin: (origin, c) => {
    const raw = trustEnv(c).CORS_ORIGINS ?? "*";
    let allowed = parsed.get(raw);
    if (!allowed) {
      allowed = allowedOrigins(raw);
      parsed.set(raw, allowed);
    }
    if (allowed === "*") return "*";
    return allowed.has(origin) ? origin : null;
  },
  allowMethods: ["GET", "POST", "DELETE", "OPTIONS"],
  allowHeaders: ["Authorization", "Content-Type"],
  exposeHeaders: ["x-model-version", "x-live-history", "retry-after"],
  maxAge: 86400,
});
