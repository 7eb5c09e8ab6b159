// GET /movies/:id (metadata) and GET /movies/:id/similar?k=10 (nearest movies by cosine of the
// model's item embeddings).
import { Hono } from "hono";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import type { LoadedModel } from "../model-store.ts";
import { similarItems } from "../scoring.ts";
import { cache, withModel } from "../middleware.ts";
import { searchTitles } from "../search.ts";
import { kQuery, movieParam, searchQuery } from "../validation.ts";

function movieIndex(model: LoadedModel, movieId: number): number {
  const item = model.itemIndex.get(movieId);
  if (item === undefined) throw new ApiError(404, "unknown_movie", `movie ${movieId} is not in the model (${model.manifest.items} movies)`);
  return item;
}

const publicForMinutes = cache("public, max-age=300");

export const movies = new Hono<AppEnv>()
  // GET /movies?q=toy&limit=10: title search (see search.ts)
  .get("/", searchQuery, withModel, publicForMinutes, (c) => {
    const { q, limit } = c.req.valid("query");
    const model = c.var.model;
    const results = searchTitles(model.search(), q, limit).map((i) => model.movies[i]);
    return c.json({ model: model.version, q, results });
  })
  .get("/:id", movieParam, withModel, publicForMinutes, async (c) => {
    const model = c.var.model;
    const item = movieIndex(model, c.req.valid("param").movieId);
    return c.json({ model: model.version, movie: model.movies[item] });
  })
  .get("/:id/similar", movieParam, kQuery, withModel, publicForMinutes, async (c) => {
    const { k } = c.req.valid("query");
    const model = c.var.model;
    const item = movieIndex(model, c.req.valid("param").movieId);
    if (!model.similar) {
      throw new ApiError(404, "no_similar", `the served model (${model.manifest.model}) has no item embeddings, so it cannot list similar movies`);
    }
    const ranked = await similarItems(model, item, k, [item]);
    return c.json({
      model: model.version,
      k,
      movie: model.movies[item],
      similar: ranked.map(({ item: i, score }) => ({ ...model.movies[i], score })),
    });
  });
