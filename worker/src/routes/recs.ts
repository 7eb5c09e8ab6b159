// GET /users/:id/recs?k=10: the user's top k movies, none of which the user rated.
import { Hono } from "hono";
import type { AppEnv } from "../env.ts";
import { ApiError, parseK, positiveInt } from "../errors.ts";
import { ratedItems, topK } from "../scoring.ts";
import { store } from "../store.ts";

export const recs = new Hono<AppEnv>().get("/:id/recs", async (c) => {
  const userId = positiveInt(c.req.param("id"), "user id");
  const k = parseK(c.req.query("k"));
  const model = await store.get(c.env);
  const user = model.userIndex.get(userId);
  if (user === undefined) throw new ApiError(404, "unknown_user", `user ${userId} is not in the model (${model.manifest.users} users)`);
  const ranked = await topK(model, "recs", user, k, ratedItems(model, user));
  c.header("x-model-version", model.version);
  c.header("cache-control", "private, max-age=60");
  return c.json({
    user: userId,
    model: model.version,
    k,
    recommendations: ranked.map(({ item, score }) => ({ ...model.movies[item], score })),
  });
});
