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

/** Parses a positive integer path or query value, or answers 400. */
export function positiveInt(value: string | undefined, what: string): number {
  if (value === undefined || !/^[0-9]{1,9}$/.test(value) || Number(value) < 1) {
    throw new ApiError(400, "bad_request", `${what} must be a positive integer, got ${JSON.stringify(value ?? "")}`);
  }
  return Number(value);
}

/** k from the query string: default 10, allowed 1..100. */
export function parseK(value: string | undefined): number {
  if (value === undefined) return 10;
  if (!/^[0-9]{1,3}$/.test(value) || Number(value) < 1 || Number(value) > 100) {
    throw new ApiError(400, "bad_request", `k must be an integer from 1 to 100, got ${JSON.stringify(value)}`);
  }
  return Number(value);
}
