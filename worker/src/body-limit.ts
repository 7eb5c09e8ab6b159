// Request bodies over 1 MB answer 413 JSON before they are read in full.
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "./env.ts";
import { ApiError, errorResponse } from "./errors.ts";
import { MAX_BODY_BYTES } from "./validation.ts";

export const limitBody: MiddlewareHandler<AppEnv> = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: (c) => errorResponse(c, new ApiError(413, "payload_too_large", `the body is larger than ${MAX_BODY_BYTES} bytes (1 MB)`)),
});
