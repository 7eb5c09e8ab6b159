// POST /recs: stateless recommendations for a visitor who keeps their own history (an app, a
// browser). The history in the body is folded in and excluded; nothing is stored.
import { OpenAPIHono } from "@hono/zod-openapi";
import type { z } from "@hono/zod-openapi";
import { historyRecsRoute } from "../api/routes.ts";
import type { Recommendation } from "../api/schemas.ts";
import { limitBody } from "../body-limit.ts";
import type { AppEnv } from "../env.ts";
import { callerUserId, recordServed, withArm } from "../loop/with-arm.ts";
import { cache, route } from "../middleware.ts";
import { liveCatalogue } from "../catalogue/live.ts";
import { withLiveMovies } from "../catalogue/recs.ts";
import { rankHistory, recommendationList } from "../recommendations.ts";
import { historyEntries, requireJson, validationHook } from "../validation.ts";

export const anonymous = new OpenAPIHono<AppEnv>({ defaultHook: validationHook }).openapi(
  ...route({ ...historyRecsRoute, middleware: [limitBody, requireJson] as const }, [withArm(callerUserId), cache("no-store")], async (c) => {
    const body = c.req.valid("json");
    const k = body.k ?? 10;
    const model = c.var.model;
    const { history: entries, k: _k, diversity, ...filter } = body;
    const history = historyEntries(entries, "history", "refuse");
    const ranked = await rankHistory(model, history, k, "the history", { filter, diversity });
    // the live catalogue's movies may be recommended too (catalogue/)
    const listed = await recommendationList(model, ranked);
    const recommendations = (await withLiveMovies(model, await liveCatalogue(c.env, model), ranked, listed, { user: null, history }, k, {
      filter,
      diversity,
    })) as z.infer<typeof Recommendation>[];
    // a visitor's history: no user the model knows
    recordServed(
      c,
      true,
      recommendations.map((r) => r.movieId),
    );
    const { recId, arm } = c.var.loop;
    return c.json({ model: model.version, recId, arm, k, source: ranked.source, ignored: ranked.ignored, recommendations }, 200);
  }),
);
