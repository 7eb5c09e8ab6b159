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
  ) {
    super(message);
  }
}

export function errorResponse(c: Context, err: unknown): Response {
  if (err instanceof ApiError) {
    return c.json({ error: err.code, message: err.message }, err.status, { "cache-control": "no-store" });
  }
  // thrown by Hono's own middleware (bearer auth): already a JSON response
  if (err instanceof HTTPException) return err.getResponse();
  console.error("unhandled error", err);
  return c.json({ error: "internal", message: "internal error" }, 500, { "cache-control": "no-store" });
}
