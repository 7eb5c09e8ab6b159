// GET /admin/metrics: the online metrics per arm and model version (docs/loop.md), from D1.
import { OpenAPIHono } from "@hono/zod-openapi";
import { metricsRoute } from "../api/loop-routes.ts";
import { tokenRequired } from "../auth.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { readMetrics } from "../loop/metrics.ts";
import { loopSettings } from "../loop/settings.ts";
import { cache, route } from "../middleware.ts";
import { validationHook } from "../validation.ts";

const DAY = 86400;
const BUCKETS = { hour: { seconds: 3600, maxDays: 31 }, day: { seconds: DAY, maxDays: 366 } } as const;

export const adminMetrics = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(
  ...route({ ...metricsRoute, middleware: [tokenRequired] as const }, [cache("private, no-store")], async (c) => {
    const q = c.req.valid("query");
    // `to` is exclusive: by default the range ends after the current second, so an event stamped
    // now (the usual case for a client posting as it happens) is counted at once
    const to = q.to ?? Math.floor(Date.now() / 1000) + 1;
    const from = q.from ?? to - 7 * DAY;
    const bucket = q.bucket ?? "day";
    const { seconds, maxDays } = BUCKETS[bucket];
    if (from >= to) throw new ApiError(400, "bad_request", `from must be before to, got from=${from} and to=${to} (unix seconds)`);
    if (to - from > maxDays * DAY)
      throw new ApiError(400, "bad_request", `with bucket=${bucket} the range may span at most ${maxDays} days; narrow from/to or use bucket=day`);
    // coverage's denominator: the served catalogue; the metrics are still answered without a model
    let catalogue = 0;
    try {
      const lease = await c.var.store.acquire(c.env);
      catalogue = lease.model.manifest.items;
      lease.release();
    } catch {
      // no model loadable now: coverage is null
    }
    const conversionSeconds = Math.round(loopSettings(c.env).conversionHours * 3600);
    const { totals, series, unattributed } = await readMetrics(c.env.DB, { from, to, bucketSeconds: seconds, conversionSeconds, catalogue });
    return c.json(
      {
        from,
        to,
        bucket,
        catalogue,
        unattributed,
        arms: totals.map(({ t: _t, ...figures }) => figures),
        series: series.map(({ moviesShown: _m, coverage: _c, ...point }) => point),
      },
      200,
    );
  }),
);
