// The edge topology's middleware (docs/edge.md), one entry for app.ts: under `wrangler dev` with
// DEV_LATENCY, the bindings with the production round trips injected (latency.ts); R2 with a
// version's files read through the location's cache (bundle-cache.ts); then the request's D1
// session and its bookmark (session.ts).
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";
import { bundleCached } from "./bundle-cache.ts";
import { type DevLatencyEnv, devCounts, devLatencySettings, r2Calls, withLatency } from "./latency.ts";
import { DEV_QUERIES_HEADER } from "./names.ts";
import { d1Session, requestDatabase } from "./session.ts";
import { forgetUserState, storedUserStates } from "./user-state.ts";

export { DEV_MARKER, DEV_QUERIES_HEADER } from "./names.ts";

export const edge = createMiddleware<AppEnv>(async (c, next) => {
  const dev = (c.env ?? {}) as AppEnv["Bindings"] & DevLatencyEnv;
  const settings = devLatencySettings(dev, c.req.url);
  if (settings && dev.DB_REPLICA) c.env = { ...c.env, ...withLatency(dev.DB, dev.DB_REPLICA, dev.MODELS, settings) };
  if (c.env?.MODELS && c.env.BUNDLE_CACHE !== "off") c.env = { ...c.env, MODELS: bundleCached(c.env.MODELS, new URL(c.req.url).origin) };
  await d1Session(c, async () => {
    await next();
    await dropStaleUserState(c);
  });
  const counts = settings ? devCounts(requestDatabase(c.env.DB)?.session) : null;
  // r2-calls: the isolate's total so far (a request's own are the difference, one request at a time)
  if (counts)
    c.res.headers.set(
      DEV_QUERIES_HEADER,
      `primary-reads=${counts.primaryReads}, replica-reads=${counts.replicaReads}, writes=${counts.writes}, r2-calls=${r2Calls.count}`,
    );
});

const USER_PATH = /^\/users\/0*(\d{1,15})(\/|$)/;

/**
 * A request that wrote for /users/:id without leaving the user's new state in the location's
 * cache (DELETE /users/:id, say) drops the cached one, so this location's next read asks D1.
 */
async function dropStaleUserState(c: Context<AppEnv>): Promise<void> {
  const db = requestDatabase(c.env?.DB);
  const user = USER_PATH.exec(new URL(c.req.url).pathname)?.[1];
  if (!db?.wrote || user === undefined || storedUserStates(db).has(Number(user))) return;
  await forgetUserState(db, Number(user)).catch(() => {});
}
