// The live catalogue in D1 (migration 0007, table movies): movies added or corrected after
// training with POST /admin/movies. A batch is one transaction with its audit entry, so it is all
// or nothing and never unaccounted for. Reads feed search, GET /movies/:id and the item fold-in.
import { guarded } from "../live-store.ts";
import { auditStatement } from "../security/audit.ts";

export interface CatalogueMovie {
  movieId: number;
  title: string;
  year: number | null;
  genres: string[];
  addedAt: number;
  updatedAt: number;
}

/** A movie as POST /admin/movies takes it. */
export interface MovieInput {
  movieId: number;
  title: string;
  genres: string[];
}

interface Row {
  id: number;
  title: string;
  year: number | null;
  genres: string;
  added_at: number;
  updated_at: number;
}

const toMovie = (r: Row): CatalogueMovie => ({
  movieId: r.id,
  title: r.title,
  year: r.year,
  genres: JSON.parse(r.genres) as string[],
  addedAt: r.added_at,
  updatedAt: r.updated_at,
});

/** "Title (1999)" -> 1999 (MovieLens's convention; the schema insists on it). */
export function yearOf(title: string): number | null {
  const m = /\((\d{4})\)\s*$/.exec(title);
  return m ? Number(m[1]) : null;
}

/**
 * Adds or updates the movies and records who did it, in one batch (a D1 batch is a transaction):
 * every movie is stored with its audit entry, or nothing is. An update keeps `added_at`.
 */
export async function putMovies(db: D1Database, movies: MovieInput[], now: number, actor: string): Promise<CatalogueMovie[]> {
  const rows = movies.map((m) => [m.movieId, m.title, yearOf(m.title), JSON.stringify(m.genres)]);
  return guarded(async () => {
    const [upsert] = await db.batch<Row>([
      db
        .prepare(
          `INSERT INTO movies (id, title, year, genres, added_at, updated_at)
           SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'), ?2, ?2 FROM json_each(?1) WHERE true
           ON CONFLICT (id) DO UPDATE SET title = excluded.title, year = excluded.year, genres = excluded.genres, updated_at = excluded.updated_at
           RETURNING id, title, year, genres, added_at, updated_at`,
        )
        .bind(JSON.stringify(rows), now),
      auditStatement(db, {
        actor,
        action: "movies.put",
        subject: movies.length === 1 ? `movie:${movies[0].movieId}` : `movies:${movies.length}`,
        detail: { movies: movies.map((m) => m.movieId) },
      }),
    ]);
    return upsert.results.map(toMovie).sort((a, b) => a.movieId - b.movieId);
  });
}

// The reads below are optional to a request (it answers from the bundle alone without them), so
// they are not guarded: a failure is the caller's to log as a warning, not as the store being down.

/** Every movie of the live catalogue, by id. */
export async function catalogueMovies(db: D1Database): Promise<CatalogueMovie[]> {
  return (await db.prepare("SELECT id, title, year, genres, added_at, updated_at FROM movies ORDER BY id").all<Row>()).results.map(toMovie);
}

/** The most raters of one movie the fold-in reads (the newest): bounds a request's work. */
export const MAX_RATERS = 500;

/**
 * For each of `movieIds`, its positive raters' other liked movies in D1 (ratings of 3 and up, or
 * watched): rows of (movie, rater, liked movie), liked null for a rater who liked nothing else.
 * One statement; the newest MAX_RATERS raters of each movie.
 */
export async function ratersLiked(db: D1Database, movieIds: number[]): Promise<{ movie: number; user: number; liked: number | null }[]> {
  if (movieIds.length === 0) return [];
  const { results } = await db
    .prepare(
      `WITH raters AS (
           SELECT movie_id, user_id FROM (
             SELECT movie_id, user_id, ROW_NUMBER() OVER (PARTITION BY movie_id ORDER BY rated_at DESC, user_id) AS n
             FROM ratings WHERE movie_id IN (SELECT value FROM json_each(?1)) AND (rating IS NULL OR rating >= 3)
           ) WHERE n <= ?2
         )
         SELECT raters.movie_id AS movie, raters.user_id AS user, r.movie_id AS liked
         FROM raters LEFT JOIN ratings r ON r.user_id = raters.user_id AND r.movie_id != raters.movie_id AND (r.rating IS NULL OR r.rating >= 3)`,
    )
    .bind(JSON.stringify(movieIds), MAX_RATERS)
    .all<{ movie: number; user: number; liked: number | null }>();
  return results;
}
