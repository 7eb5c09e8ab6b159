// One replay arm's Worker, over HTTP as a client would call it: the user's list
// (GET /users/:id/recs), the impressions of that list (POST /events), the user's ratings
// (POST /users/:id/ratings) and, at the end, the online metrics (GET /admin/metrics). Each arm has
// its own `wrangler dev` with its own state folder, so its D1 (live ratings, events) and its R2
// (published versions) are its own: one arm's ratings never reach another's lists.

export interface ListAnswer {
  /** The movie ids, best first. */
  ranked: number[];
  /** The version that ranked the list. */
  model: string;
  /** "model" (a known user), "fold-in" (a user the model did not know), "popular" (cold start). */
  source: string;
  recId: string;
  ignored: number;
}

export interface ArmClient {
  recs(user: number, k: number): Promise<ListAnswer>;
  /** One impression event per shown movie, stamped `ts` (unix seconds, wall clock). */
  impressions(user: number, recId: string, movies: readonly number[], ts: number): Promise<void>;
  rate(user: number, ratings: readonly { movieId: number; rating: number; timestamp?: number }[]): Promise<void>;
  /** GET /admin/metrics' per-arm, per-model figures from `from` (unix seconds) to now. */
  metrics(from: number): Promise<unknown[]>;
  /** The version the Worker serves now (GET /health). */
  version(): Promise<string | null>;
}

/** A refused request: the replay stops, with what the Worker said (a bench must not count errors as misses silently). */
export class ReplayRequestError extends Error {}

async function ok(res: Response, what: string): Promise<unknown> {
  const text = await res.text();
  if (res.status !== 200) throw new ReplayRequestError(`${what} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

/** Ratings POSTed at most this many per request (the route's limit is 1,000). */
const RATINGS_PER_REQUEST = 1000;
/** Events POSTed at most this many per request (the route's limit is 500). */
const EVENTS_PER_REQUEST = 500;

export function httpArm(url: string, token: string): ArmClient {
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  return {
    async recs(user, k) {
      const body = (await ok(await fetch(`${url}/users/${user}/recs?k=${k}`, { headers }), `GET /users/${user}/recs`)) as {
        recommendations: { movieId: number }[];
        model: string;
        source: string;
        recId: string;
        ignored?: number;
      };
      return { ranked: body.recommendations.map((r) => r.movieId), model: body.model, source: body.source, recId: body.recId, ignored: body.ignored ?? 0 };
    },
    async impressions(user, recId, movies, ts) {
      for (let i = 0; i < movies.length; i += EVENTS_PER_REQUEST) {
        const events = movies
          .slice(i, i + EVENTS_PER_REQUEST)
          .map((movieId) => ({ id: `${recId}-${movieId}-imp`, userId: user, movieId, type: "impression", recId, ts }));
        await ok(await fetch(`${url}/events`, { method: "POST", headers, body: JSON.stringify({ events }) }), "POST /events");
      }
    },
    async rate(user, ratings) {
      for (let i = 0; i < ratings.length; i += RATINGS_PER_REQUEST) {
        const body = JSON.stringify({ ratings: ratings.slice(i, i + RATINGS_PER_REQUEST) });
        await ok(await fetch(`${url}/users/${user}/ratings`, { method: "POST", headers, body }), `POST /users/${user}/ratings`);
      }
    },
    async metrics(from) {
      const body = (await ok(await fetch(`${url}/admin/metrics?from=${from}&bucket=day`, { headers }), "GET /admin/metrics")) as { arms: unknown[] };
      return body.arms;
    },
    async version() {
      const res = await fetch(`${url}/health`, { headers });
      const body = (await res.json()) as { model?: string };
      return body.model ?? null;
    },
  };
}
