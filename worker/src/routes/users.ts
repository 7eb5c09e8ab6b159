// Per-user routes: recommendations (GET /users/:id/recs), and the live ratings in D1
// (POST/GET /users/:id/ratings, DELETE /users/:id/ratings/:movieId, DELETE /users/:id). What each
// accepts and answers is defined in api/routes.ts; the handlers here only do the work.
import { OpenAPIHono } from "@hono/zod-openapi";
import { endTime, startTime, timing } from "hono/timing";
import type { z } from "@hono/zod-openapi";
import { deleteRatingRoute, deleteUserRoute, getRatingsRoute, postRatingsRoute, userRecsRoute } from "../api/routes.ts";
import type { Recommendation } from "../api/schemas.ts";
import { tokenRequired } from "../auth.ts";
import { limitBody } from "../body-limit.ts";
import { recordServed, withArm } from "../loop/with-arm.ts";
import type { AppEnv } from "../env.ts";
import { actorOf } from "../auth/principal.ts";
import { ratingsQuota } from "../limits/quota.ts";
import { deleteRating, liveRatings, putRatings } from "../live-store.ts";
import { cache, route, withModel } from "../middleware.ts";
import { liveCatalogue } from "../catalogue/live.ts";
import { withLiveMovies } from "../catalogue/recs.ts";
import { rankUser, recommendationList } from "../recommendations.ts";
import { forgetUser } from "../security/forget.ts";
import { readAndRankUser } from "../user-read.ts";
import { historyEntries, requireJson, validationHook } from "../validation.ts";

export const users = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  // per-user answers change with every rating the user posts: never reused
  // Server-Timing says where a request's time went: reading the user, ranking, the reasons
  .openapi(
    ...route(
      { ...userRecsRoute, middleware: [timing({ totalDescription: "recommendation" })] as const },
      [withArm((c) => Number(c.req.param("id")), { readsUserState: true }), cache("private, no-store")],
      async (c) => {
        const { id: userId } = c.req.valid("param");
        const { k, diversity, ...filter } = c.req.valid("query");
        const model = c.var.model;
        startTime(c, "rank", "the user read and top k over every movie (overlapped)");
        // the live catalogue's movies may be recommended too (catalogue/; cached per isolate)
        const [
          {
            reads: { user, live },
            ranked,
          },
          catalogue,
        ] = await Promise.all([
          readAndRankUser(model, c.env.DB, userId, (reads) => rankUser(model, userId, reads.user, reads.live, k, { filter, diversity })),
          liveCatalogue(c.env, model),
        ]);
        endTime(c, "rank");
        // D1 is down but the snapshot is elsewhere: known users still get recommendations from it
        if (live === null) c.header("x-live-history", "unavailable");
        startTime(c, "reasons", "because and movie metadata");
        const recommendations = (await withLiveMovies(model, catalogue, ranked, await recommendationList(model, ranked), { user, history: live ?? [] }, k, {
          filter,
          diversity,
        })) as z.infer<typeof Recommendation>[];
        endTime(c, "reasons");
        recordServed(
          c,
          ranked.source !== "model",
          recommendations.map((r) => r.movieId),
        );
        const { recId, arm } = c.var.loop;
        return c.json({ user: userId, model: model.version, recId, arm, k, source: ranked.source, ignored: ranked.ignored, recommendations }, 200);
      },
    ),
  )
  .openapi(
    ...route({ ...postRatingsRoute, middleware: [tokenRequired, limitBody, requireJson] as const }, [withModel, cache("no-store")], async (c) => {
      const { id: userId } = c.req.valid("param");
      const entries = historyEntries(c.req.valid("json").ratings, "ratings", "latest");
      await ratingsQuota(c, userId, entries);
      const stored = await putRatings(c.env.DB, userId, entries, Math.floor(Date.now() / 1000));
      return c.json({ user: userId, stored: stored.length, ratings: stored }, 200);
    }),
  )
  .openapi(
    ...route({ ...getRatingsRoute, middleware: [tokenRequired] as const }, [cache("private, no-store")], async (c) => {
      const { id: userId } = c.req.valid("param");
      const ratings = await liveRatings(c.env.DB, userId);
      return c.json({ user: userId, ratings }, 200);
    }),
  )
  .openapi(
    ...route({ ...deleteRatingRoute, middleware: [tokenRequired] as const }, [cache("no-store")], async (c) => {
      const { id: userId, movieId } = c.req.valid("param");
      const deleted = await deleteRating(c.env.DB, userId, movieId);
      return c.json({ user: userId, movieId, deleted }, 200);
    }),
  )
  .openapi(
    ...route({ ...deleteUserRoute, middleware: [tokenRequired] as const }, [cache("no-store")], async (c) => {
      const { id: userId } = c.req.valid("param");
      const deleted = await forgetUser(c.env.DB, userId, actorOf(c));
      return c.json({ user: userId, deleted }, 200);
    }),
  );
