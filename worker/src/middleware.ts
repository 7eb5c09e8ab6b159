// Cross-cutting work done once per request instead of in every handler: holding the served
// model for the request's lifetime, and the cache headers.
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./env.ts";

/** The request's ExecutionContext; absent when the app is called without one (tests, app.request). */
function executionContext(c: Context<AppEnv>): { waitUntil(work: Promise<unknown>): void } | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined;
  }
}

/**
 * Puts the served model on c.var.model and holds it until the response is made, so a hot swap
 * never releases a model a request is still using; sets x-model-version.
 */
export const withModel = createMiddleware<AppEnv>(async (c, next) => {
  const ctx = executionContext(c);
  const lease = await c.var.store.acquire(c.env, ctx ? (work) => ctx.waitUntil(work) : undefined);
  c.set("model", lease.model);
  try {
    await next();
  } finally {
    lease.release();
  }
  c.res.headers.set("x-model-version", lease.model.version);
});

/**
 * Cache-Control for successful answers (errors set no-store themselves). An answer to a request
 * that carried credentials is never `public`, and when a token guards the API every answer
 * varies with the Authorization header, so no shared cache hands one caller's answer to another.
 */
export function cache(policy: string) {
  return createMiddleware<AppEnv>(async (c, next) => {
    await next();
    if (c.res.status < 200 || c.res.status >= 300) return;
    const credentialed = c.req.header("authorization") !== undefined;
    c.res.headers.set("cache-control", credentialed ? policy.replace(/^public\b/, "private") : policy);
    if (c.env.API_TOKEN) c.res.headers.append("vary", "Authorization");
  });
}
