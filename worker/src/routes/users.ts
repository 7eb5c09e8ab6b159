// Per-user routes: recommendations (GET /users/:id/recs), and the live ratings in D1
// (POST/GET /users/:id/ratings, DELETE /users/:id/ratings/:movieId, DELETE /users/:id).
import { Hono } from "hono";
import { tokenRequired } from "../auth.ts";
import { limitBody } from "../body-limit.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { type LiveRating, deleteRating, deleteUser, liveRatings, putRatings } from "../live-store.ts";
import { rankUser, recommendationList } from "../recommendations.ts";
import { cache, withModel } from "../middleware.ts";
import { jsonBody, parseEntries, parseK, positiveInt } from "../validation.ts";

export const users = new Hono<AppEnv>()
  // per-user answers change with every rating the user posts: never reused
  .get("/:id/recs", withModel, cache("private, no-store"), async (c) => {
    const userId = positiveInt(c.req.param("id"), "user id");
    const k = parseK(c.req.query("k"));
    const model = c.var.model;
    let live: LiveRating[] | null = null;
    try {
      live = await liveRatings(c.env.DB, userId);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      // D1 is down: known users still get recommendations from the snapshot
      c.header("x-live-history", "unavailable");
    }
    const { source, ranked } = await rankUser(model, userId, live, k);
    return c.json({ user: userId, model: model.version, k, source, recommendations: recommendationList(model, ranked) });
  })
  .post("/:id/ratings", tokenRequired, limitBody, withModel, cache("no-store"), async (c) => {
    const userId = positiveInt(c.req.param("id"), "user id");
    const body = await jsonBody(c.req.raw);
    const model = c.var.model;
    const entries = parseEntries(body, "ratings", (id) => model.itemIndex.has(id));
    const stored = await putRatings(c.env.DB, userId, entries, Math.floor(Date.now() / 1000));
    return c.json({ user: userId, stored: stored.length, ratings: stored });
  })
  .get("/:id/ratings", tokenRequired, cache("private, no-store"), async (c) => {
    const userId = positiveInt(c.req.param("id"), "user id");
    const ratings = await liveRatings(c.env.DB, userId);
    return c.json({ user: userId, ratings });
  })
  .delete("/:id/ratings/:movieId", tokenRequired, cache("no-store"), async (c) => {
    const userId = positiveInt(c.req.param("id"), "user id");
    const movieId = positiveInt(c.req.param("movieId"), "movie id");
    const deleted = await deleteRating(c.env.DB, userId, movieId);
    return c.json({ user: userId, movieId, deleted });
  })
  .delete("/:id", tokenRequired, cache("no-store"), async (c) => {
    const userId = positiveInt(c.req.param("id"), "user id");
    const deleted = await deleteUser(c.env.DB, userId);
    return c.json({ user: userId, deleted });
  });
