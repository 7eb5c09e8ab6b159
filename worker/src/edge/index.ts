// The edge topology's middleware (docs/edge.md), one entry for app.ts: under `wrangler dev` with
// DEV_LATENCY, the bindings with the production round trips injected (latency.ts); then the
// request's D1 session and its bookmark (session.ts).
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";
import { type DevLatencyEnv, devCounts, devLatencySettings, withLatency } from "./latency.ts";
import { d1Session, requestDatabase } from "./session.ts";

/** Response header with the request's D1 queries by where they ran; only while latency is injected. */
export const DEV_QUERIES_HEADER = "x-dev-d1-queries";

export const edge = createMiddleware<AppEnv>(async (c, next) => {
  const dev = (c.env ?? {}) as AppEnv["Bindings"] & DevLatencyEnv;
  const settings = devLatencySettings(dev, c.req.url);
  if (settings && dev.DB_REPLICA) c.env = { ...c.env, ...withLatency(dev.DB, dev.DB_REPLICA, dev.MODELS, settings) };
  await d1Session(c, next);
  const counts = settings ? devCounts(requestDatabase(c.env.DB)?.session) : null;
  if (counts) c.res.headers.set(DEV_QUERIES_HEADER, `primary-reads=${counts.primaryReads}, replica-reads=${counts.replicaReads}, writes=${counts.writes}`);
});
