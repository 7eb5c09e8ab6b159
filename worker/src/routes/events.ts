// POST /events: what users did with the lists they were served (docs/loop.md). Stored all or
// nothing, idempotent by event id.
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { postEventsRoute } from "../api/loop-routes.ts";
import { tokenRequired } from "../auth.ts";
import { principalOf } from "../auth/principal.ts";
import { limitBody } from "../body-limit.ts";
import type { AppEnv } from "../env.ts";
import { forgetUserState } from "../edge/user-state.ts";
import { ApiError } from "../errors.ts";
import { type LoopEvent, storeEvents } from "../loop/events-store.ts";
import { afterResponse, pruneIfDue } from "../loop/served-log.ts";
import { cache, route } from "../middleware.ts";
import { requireJson, validationHook } from "../validation.ts";

/** Refuses the whole batch when the caller may not post one of its events: a user token posts only its own user's. */
function checkOwnEvents(c: Context<AppEnv>, events: LoopEvent[]): void {
  const caller = principalOf(c);
  if (caller.role === "admin") return;
  // tokenRequired let no anonymous caller through
  const own = caller.role === "user" ? caller.userId : null;
  const i = events.findIndex((e) => e.userId !== own);
  if (i >= 0)
    throw new ApiError(
      403,
      "forbidden",
      `events[${i}].userId is ${events[i].userId}, and this token is for user ${own}: a user token posts only its own events; nothing was stored`,
    );
}

export const events = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(
  ...route({ ...postEventsRoute, middleware: [tokenRequired, limitBody, requireJson] as const }, [cache("no-store")], async (c) => {
    const batch = c.req.valid("json").events;
    checkOwnEvents(c, batch);
    const now = Math.floor(Date.now() / 1000);
    const stored = await storeEvents(c.env.DB, batch, now);
    // a dismissal changes what the user's list may hold: the cached states of those users go
    // (this isolate's and this location's; other locations' expire, as for any write elsewhere)
    const dismissed = new Set(batch.filter((e) => e.type === "dismiss").map((e) => e.userId));
    await Promise.all([...dismissed].map((user) => forgetUserState(c.env.DB, user).catch(() => {})));
    afterResponse(c, pruneIfDue(c.env, now));
    return c.json({ received: batch.length, stored, duplicates: batch.length - stored }, 200);
  }),
);
