// Response headers every Worker answer carries: secure headers (hono/secure-headers) and CORS
// from an allowlist (hono/cors, CORS_ORIGINS). The page's own files are Workers static assets,
// answered before the Worker runs: their headers come from worker/public/_headers, written from
// the same values (policy.ts) by worker/scripts/build-page.mjs (docs/trust.md).
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import type { AppEnv } from "../env.ts";
import { CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS } from "./policy.ts";
import { trustEnv } from "./settings.ts";

/** API answers are JSON, which no browser executes; the policy matters for any HTML the Worker serves. */
export const securityHeaders: MiddlewareHandler<AppEnv> = secureHeaders({
  contentSecurityPolicy: CONTENT_SECURITY_POLICY,
  xFrameOptions: X_FRAME_OPTIONS,
  xContentTypeOptions: X_CONTENT_TYPE_OPTIONS,
  referrerPolicy: REFERRER_POLICY,
  strictTransportSecurity: STRICT_TRANSPORT_SECURITY,
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
  allowMethods: ["GET", "POST", "PUT", "DELETE", "OPTIONS"],
  allowHeaders: ["Authorization", "Content-Type"],
  exposeHeaders: ["x-model-version", "x-live-history", "retry-after", "x-d1-bookmark"],
  maxAge: 86400,
});
