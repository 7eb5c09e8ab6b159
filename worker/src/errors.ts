// Every error leaves the Worker as JSON {"error": code, "message": text} with the right status;
// nothing else (no stack trace) ever reaches a client.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    /** Extra response headers (a 503's Retry-After). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function errorResponse(c: Context, err: unknown): Response {
  if (err instanceof ApiError) {
    return c.json({ error: err.code, message: err.message }, err.status, { "cache-control": "no-store", ...err.headers });
  }
  if (err instanceof HTTPException) {
    // bearer auth throws with its own JSON answer; the validator throws bare (wrong
    // Content-Type, malformed JSON, body limit): given the same shape as every other error
    if (err.res) return err.getResponse();
    const status = err.status as ContentfulStatusCode;
    return c.json({ error: status === 413 ? "payload_too_large" : "bad_request", message: err.message }, status, { "cache-control": "no-store" });
  }
  console.error("unhandled error", err);
  return c.json({ error: "internal", message: "internal error" }, 500, { "cache-control": "no-store" });
}
