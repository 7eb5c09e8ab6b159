// Per-user routes: recommendations (GET /users/:id/recs), and the live ratings in D1
// (POST/GET /users/:id/ratings, DELETE /users/:id/ratings/:movieId, DELETE /users/:id).
import { Hono } from "hono";
import { endTime, startTime, timing } from "hono/timing";
import { tokenRequired } from "../auth.ts";
import { limitBody } from "../body-limit.ts";
import type { AppEnv } from "../env.ts";
import { actorOf } from "../auth/principal.ts";
import { ratingsQuota } from "../limits/quota.ts";
import { deleteRating, liveRatings, putRatings } from "../live-store.ts";
import { rankUser, recommendationList } from "../recommendations.ts";
import { cache, withModel } from "../middleware.ts";
import { forgetUser } from "../security/forget.ts";
import { readUser } from "../user-read.ts";
import { kQuery, ratingsBody, userMovieParams, userParam } from "../validation.ts";

export const users = new Hono<AppEnv>()
  // per-user answers change with every rating the user posts: never reused
  // Server-Timing says where a request's time went: reading the user, ranking, the reasons
  .get("/:id/recs", timing({ totalDescription: "recommendation" }), userParam, kQuery, withModel, cache("private, no-store"), async (c) => {
    const { userId } = c.req.valid("param");
    const { k } = c.req.valid("query");
    const model = c.var.model;
    startTime(c, "read", "user's snapshot and live ratings");
    const { user, live } = await readUser(model, c.env.DB, userId);
    endTime(c, "read");
    // D1 is down but the snapshot is elsewhere: known users still get recommendations from it
    if (live === null) c.header("x-live-history", "unavailable");
    startTime(c, "rank", "top k over every movie");
    const ranked = await rankUser(model, userId, user, live, k);
    endTime(c, "rank");
    startTime(c, "reasons", "because and movie metadata");
    const recommendations = await recommendationList(model, ranked);
    endTime(c, "reasons");
    return c.json({ user: userId, model: model.version, k, source: ranked.source, recommendations });
  })
  .post("/:id/ratings", tokenRequired, userParam, limitBody, withModel, cache("no-store"), ratingsBody, ratingsQuota, async (c) => {
    const { userId } = c.req.valid("param");
    const entries = c.req.valid("json");
    const stored = await putRatings(c.env.DB, userId, entries, Math.floor(Date.now() / 1000));
    return c.json({ user: userId, stored: stored.length, ratings: stored });
  })
  .get("/:id/ratings", tokenRequired, userParam, cache("private, no-store"), async (c) => {
    const { userId } = c.req.valid("param");
    const ratings = await liveRatings(c.env.DB, userId);
    return c.json({ user: userId, ratings });
  })
  .delete("/:id/ratings/:movieId", tokenRequired, userMovieParams, cache("no-store"), async (c) => {
    const { userId, movieId } = c.req.valid("param");
    const deleted = await deleteRating(c.env.DB, userId, movieId);
    return c.json({ user: userId, movieId, deleted });
  })
  .delete("/:id", tokenRequired, userParam, cache("no-store"), async (c) => {
    const { userId } = c.req.valid("param");
    const deleted = await forgetUser(c.env.DB, userId, actorOf(c));
    return c.json({ user: userId, deleted });
  });
