// Anonymous GET /users/:id/recs when PUBLIC_RECS = "no-reasons": the list reveals no history
// and no id's existence. No `because` (a reason names a movie the user liked), no scores and no
// source (both differ between a trained user and the popularity list), and an id the model does
// not know, or a forgotten one, gets the most popular movies with the same status and shape.
// When D1 cannot be read every id gets the same 503: a known id must not be the only one answered.
import type { Context, Next } from "hono";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { withModel } from "../middleware.ts";
import type { LoadedModel } from "../model-store.ts";
import { rankUser } from "../recommendations.ts";
import { readUser } from "../user-read.ts";

const MAX_K = 100;
const popularOrder = new WeakMap<LoadedModel, number[]>();

/** The model's MAX_K most rated movies (internal indices), most rated first; ties to the lower index. */
export function mostPopular(model: LoadedModel): number[] {
  let order = popularOrder.get(model);
  if (!order) {
    const popularity = model.search().popularity;
    order = Array.from(popularity.keys())
      .sort((a, b) => popularity[b] - popularity[a] || a - b)
      .slice(0, MAX_K);
    popularOrder.set(model, order);
  }
  return order;
}

/** k as the route reads it, or null when the route's validator would refuse it (it then answers the 400). */
function validK(c: Context<AppEnv>): number | null {
  const ks = c.req.queries("k");
  if (!ks) return 10;
  if (ks.length !== 1 || !/^[0-9]{1,3}$/.test(ks[0])) return null;
  const k = Number(ks[0]);
  return k >= 1 && k <= MAX_K ? k : null;
}

async function anonymousList(model: LoadedModel, db: D1Database, userId: number, k: number): Promise<number[]> {
  const { user, live } = await readUser(model, db, userId);
  if (live === null) {
    throw new ApiError(503, "live_store_unavailable", "the live ratings store (D1) is not available right now; try again shortly");
  }
  try {
    return (await rankUser(model, userId, user, live, k)).ranked.map((r) => r.item);
  } catch (err) {
    // an unknown or forgotten id, or one with nothing positive to fold in: answered like a known one
    if (err instanceof ApiError && err.status === 404) return mostPopular(model).slice(0, k);
    throw err;
  }
}

export async function answerPublicRecs(c: Context<AppEnv>, userId: number, next: Next): Promise<Response | undefined> {
  const k = validK(c);
  if (k === null || userId < 1) {
    await next();
    return undefined;
  }
  await withModel(c, async () => {
    const model = c.var.model;
    const items = await anonymousList(model, c.env.DB, userId, k);
    c.res = c.json({ user: userId, model: model.version, k, recommendations: items.map((i) => model.movies[i]) });
  });
  c.res.headers.set("cache-control", "private, no-store");
  return c.res;
}
