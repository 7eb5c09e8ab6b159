// Cross-cutting work done once per request instead of in every handler: holding the served
// model for the request's lifetime, and the cache headers.
import type { RouteConfig, RouteHandler } from "@hono/zod-openapi";
import type { Context, Handler, MiddlewareHandler, Next } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "./env.ts";
import { errorResponse } from "./errors.ts";
import { secured, trustEnv } from "./security/settings.ts";

/** The request's ExecutionContext; absent when the app is called without one (tests, app.request). */
export function executionContext(c: Context<AppEnv>): { waitUntil(work: Promise<unknown>): void } | undefined {
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
    // either secret makes the answer depend on who asks (a user token's own list, 403 for another's)
    if (secured(trustEnv(c))) c.res.headers.append("vary", "Authorization");
  });
}

/**
 * An OpenAPI route and its handler, the handler run behind `after` as if they were chained
 * before it: `app.openapi(...route(definition, [withModel, cache(...)], handler))`.
 * @hono/zod-openapi runs a route's own middleware before its validators; the model is needed only
 * by a valid request (a bad id answers 400 even while no model can be loaded, and loads nothing),
 * so withModel and cache wrap the handler instead. An error thrown inside is answered here, as
 * Hono does for chained middleware, so the wrapping middleware still see (and finish) the answer.
 */
export function route<R extends RouteConfig>(
  definition: R,
  after: MiddlewareHandler<AppEnv>[],
  handler: RouteHandler<R, AppEnv>,
): [R, RouteHandler<R, AppEnv>] {
  const wrapped = async (c: Context<AppEnv>, next: Next): Promise<Response> => {
    const run = async (i: number): Promise<void> => {
      try {
        const answer = i < after.length ? await after[i](c, () => run(i + 1)) : await (handler as unknown as Handler<AppEnv>)(c, next);
        if (answer instanceof Response) c.res = answer;
      } catch (err) {
        c.res = errorResponse(c, err);
      }
    };
    await run(0);
    return c.res;
  };
  return [definition, wrapped as unknown as RouteHandler<R, AppEnv>];
}
