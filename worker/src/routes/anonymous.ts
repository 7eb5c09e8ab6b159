// POST /recs: stateless recommendations for a visitor who keeps their own history (an app, a
// browser). The history in the body is folded in and excluded; nothing is stored.
import { Hono } from "hono";
import { limitBody } from "../body-limit.ts";
import type { AppEnv } from "../env.ts";
import { cache, withModel } from "../middleware.ts";
import { rankHistory, recommendationList } from "../recommendations.ts";
import { historyBody } from "../validation.ts";

export const anonymous = new Hono<AppEnv>().post("/", limitBody, withModel, cache("no-store"), historyBody, async (c) => {
  const { history, k } = c.req.valid("json");
  const model = c.var.model;
  const ranked = await rankHistory(model, history, k, "the history");
  return c.json({ model: model.version, k, source: ranked.source, recommendations: await recommendationList(model, ranked) });
});
