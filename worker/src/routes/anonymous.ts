// POST /recs: stateless recommendations for a visitor who keeps their own history (an app, a
// browser). The history in the body is folded in and excluded; nothing is stored.
import { Hono } from "hono";
import { limitBody } from "../body-limit.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { rankHistory, recommendationList } from "../recommendations.ts";
import { store } from "../store.ts";
import { bodyK, jsonBody, parseEntries } from "../validation.ts";

export const anonymous = new Hono<AppEnv>().post("/", limitBody, async (c) => {
  const body = await jsonBody(c.req.raw);
  const model = await store.get(c.env);
  const history = parseEntries(body, "history", (id) => model.itemIndex.has(id));
  const extra = Object.keys(body as object).find((key) => key !== "history" && key !== "k");
  if (extra) throw new ApiError(400, "bad_request", `unknown field "${extra}" (allowed: history, k)`);
  const k = bodyK((body as { k?: unknown }).k);
  const { source, ranked } = await rankHistory(model, history, k, "the history");
  c.header("x-model-version", model.version);
  c.header("cache-control", "no-store");
  return c.json({ model: model.version, k, source, recommendations: recommendationList(model, ranked) });
});
