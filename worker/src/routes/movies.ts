// GET /movies?q= (title search), GET /movies/:id (metadata) and GET /movies/:id/similar?k=10
// (nearest movies by cosine of the model's item embeddings). What each accepts and answers is
// defined in api/routes.ts.
import { OpenAPIHono } from "@hono/zod-openapi";
import { movieRoute, searchRoute, similarRoute } from "../api/routes.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { cache, route, withModel } from "../middleware.ts";
import type { LoadedModel } from "../model-store.ts";
import { similarItems } from "../scoring.ts";
import { liveCatalogue, toMeta } from "../catalogue/live.ts";
import { searchWithLive } from "../search.ts";
import { validationHook } from "../validation.ts";

/** Not in the bundle: the catalogue's word on it. */
const unknownMovie = (model: LoadedModel, movieId: number): ApiError =>
  new ApiError(404, "unknown_movie", `movie ${movieId} is not in the model (${model.manifest.items} movies) nor in the live catalogue`);

function movieIndex(model: LoadedModel, movieId: number): number {
  const item = model.itemIndex.get(movieId);
  if (item === undefined) throw unknownMovie(model, movieId);
  return item;
}

const publicForMinutes = [withModel, cache("public, max-age=300")];

export const movies = new OpenAPIHono<AppEnv>({ defaultHook: validationHook })
  .openapi(
    ...route(searchRoute, publicForMinutes, async (c) => {
      const { q, limit } = c.req.valid("query");
      const model = c.var.model;
      // the live catalogue's movies too (D1 down: the bundle's alone)
      const live = (await liveCatalogue(c.env, model)).movies.map(toMeta);
      const results = searchWithLive(model.search(), model.movies, live, q, limit);
      return c.json({ model: model.version, q, results }, 200);
    }),
  )
  .openapi(
    ...route(movieRoute, publicForMinutes, async (c) => {
      const model = c.var.model;
      const { id } = c.req.valid("param");
      // the live catalogue first: it holds movies added after training and corrections
      const live = (await liveCatalogue(c.env, model)).byId.get(id);
      if (live) return c.json({ model: model.version, movie: toMeta(live) }, 200);
      const item = model.itemIndex.get(id);
      if (item === undefined) throw unknownMovie(model, id);
      return c.json({ model: model.version, movie: model.movies[item] }, 200);
    }),
  )
  .openapi(
    ...route(similarRoute, publicForMinutes, async (c) => {
      const { k } = c.req.valid("query");
      const model = c.var.model;
      const { id } = c.req.valid("param");
      if (!model.itemIndex.has(id) && (await liveCatalogue(c.env, model)).byId.has(id))
        throw new ApiError(
          404,
          "unknown_movie",
          `movie ${id} is in the live catalogue but not in the served model: similar movies come with the next training (npm run retrain)`,
        );
      const item = movieIndex(model, id);
      if (!model.similar) {
        throw new ApiError(404, "no_similar", `the served model (${model.manifest.model}) has no item embeddings, so it cannot list similar movies`);
      }
      const ranked = await similarItems(model, item, k, [item]);
      return c.json({ model: model.version, k, movie: model.movies[item], similar: ranked.map(({ item: i, score }) => ({ ...model.movies[i], score })) }, 200);
    }),
  );
