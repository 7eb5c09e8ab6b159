// POST /recs: stateless recommendations for a visitor who keeps their own history (an app, a
// browser). The history in the body is folded in and excluded; nothing is stored.
import { Hono } from "hono";
import { limitBody } from "../body-limit.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { rankHistory, recommendationList } from "../recommendations.ts";
import { cache, withModel } from "../middleware.ts";
import { bodyK, jsonBody, parseEntries } from "../validation.ts";

export const anonymous = new Hono<AppEnv>().post("/", limitBody, withModel, cache("no-store"), async (c) => {
  const body = await jsonBody(c.req.raw);
  const model = c.var.model;
  const history = parseEntries(body, "history", (id) => model.itemIndex.has(id));
  const extra = Object.keys(body as object).find((key) => key !== "history" && key !== "k");
  if (extra) throw new ApiError(400, "bad_request", `unknown field "${extra}" (allowed: history, k)`);
  const k = bodyK((body as { k?: unknown }).k);
  const { source, ranked } = await rankHistory(model, history, k, "the history");
  return c.json({ model: model.version, k, source, recommendations: recommendationList(model, ranked) });
});
