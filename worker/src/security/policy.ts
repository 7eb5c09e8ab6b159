// The security header values, in one place for both ways an answer leaves the Worker: API answers
// get them from the secureHeaders middleware (headers.ts), and the page and /docs, Workers static
// assets answered before the Worker runs, from worker/public/_headers, which
// worker/scripts/build-page.mjs writes from this module. Plain data, no imports: the build script
// bundles it on its own.

/**
 * The Content-Security-Policy, in hono/secure-headers' form: scripts, styles and everything else
 * from this origin only, no inline script or style, never framed. /docs (Swagger UI) needs nothing
 * more: it sets styles through the DOM, which style-src does not govern (worker/node-test/docs.test.ts
 * renders it, opens and calls an operation under this policy, and asserts no violation).
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

export type CspDirectives = typeof CONTENT_SECURITY_POLICY;

export const X_FRAME_OPTIONS = "DENY";
export const X_CONTENT_TYPE_OPTIONS = "nosniff";
export const REFERRER_POLICY = "no-referrer";
export const STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains";

/** A policy as the header's text: `default-src 'self'; script-src 'self'; ...`. */
export function cspHeader(policy: CspDirectives): string {
  return Object.entries(policy)
    .map(([name, values]) => `${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} ${values.join(" ")}`)
    .join("; ");
}

/** Every header the static assets carry: the API's own. */
export const STATIC_HEADERS: Record<string, string> = {
  "Content-Security-Policy": cspHeader(CONTENT_SECURITY_POLICY),
  "X-Frame-Options": X_FRAME_OPTIONS,
  "X-Content-Type-Options": X_CONTENT_TYPE_OPTIONS,
  "Referrer-Policy": REFERRER_POLICY,
  "Strict-Transport-Security": STRICT_TRANSPORT_SECURITY,
};

/** worker/public/_headers (Cloudflare's format: a path pattern, then indented `Name: value` lines). */
export function staticHeadersFile(): string {
  return [
    "# Written by worker/scripts/build-page.mjs from worker/src/security/policy.ts: edit that, not this.",
    "/*",
    ...Object.entries(STATIC_HEADERS).map(([name, value]) => `  ${name}: ${value}`),
    "",
  ].join("\n");
}
