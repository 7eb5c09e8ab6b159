// Reading what the Worker recorded in D1 since the model was trained: live ratings, the users who
// asked to be forgotten, and the publish records. Locally the D1 is a SQLite file under
// .wrangler/state that a running `wrangler dev` shares: it is opened read-only (no lock taken,
// the same way publishing checks its migrations). Remotely, one `wrangler d1 execute --remote
// --json` per query.
import { existsSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { retryWhileBusy } from "../publish/busy-retry.ts";
import { type WranglerRunner, d1Binding, localD1File, runWrangler } from "../publish/d1-migrations.ts";

/** Runs one SELECT and answers its rows; a table that does not exist yet answers no rows. */
export type D1Query = (sql: string) => Promise<Record<string, unknown>[]>;

export interface LiveRating {
  user: number;
  movie: number;
  /** 1..5, or null: watched without a rating (a positive). */
  rating: number | null;
  /** Unix seconds. */
  ratedAt: number;
}

/** A movie of the live catalogue (POST /admin/movies, D1 table movies). */
export interface LiveMovie {
  movieId: number;
  title: string;
  year: number | null;
  genres: string[];
}

export interface ForgottenUser {
  user: number;
  /** Unix seconds of the (latest) deletion. */
  forgottenAt: number;
}

/** The local D1's SQLite file, read-only; `persistTo` as `wrangler dev --persist-to`. */
export async function localD1Query(persistTo?: string): Promise<{ query: D1Query; describe: string }> {
  const db = await d1Binding();
  const file = localD1File(db.localId, persistTo);
  return {
    describe: `local D1 (${file})`,
    query: async (sql) => {
      if (!existsSync(file)) return []; // no Worker ever wrote here: nothing live yet
      return retryWhileBusy(
        async () => {
          const conn = new DatabaseSync(file, { readOnly: true });
          try {
            return conn.prepare(sql).all() as Record<string, unknown>[];
          } catch (err) {
            if (/no such table/i.test(String((err as Error).message))) return [];
            throw err;
          } finally {
            conn.close();
          }
        },
        { what: `reading ${file}` },
      );
    },
  };
}

/** The real D1 named in wrangler.toml, through `wrangler d1 execute --remote --json`. */
export async function remoteD1Query(wrangler: WranglerRunner = runWrangler): Promise<{ query: D1Query; describe: string }> {
  const db = await d1Binding();
  return {
    describe: `D1 database ${db.databaseName} (remote)`,
    query: async (sql) => {
      let out: string;
      try {
        out = await wrangler(["d1", "execute", db.databaseName, "--remote", "--json", "--command", sql]);
      } catch (err) {
        if (/no such table/i.test(String((err as Error).message))) return [];
        throw new Error(`could not read D1 database ${db.databaseName} (wrangler d1 execute --remote): ${(err as Error).message}`);
      }
      const parsed = JSON.parse(out.slice(out.indexOf("["))) as { results?: Record<string, unknown>[] }[];
      return parsed.flatMap((r) => r.results ?? []);
    },
  };
}

export async function readLiveRatings(query: D1Query): Promise<LiveRating[]> {
  const rows = await query("SELECT user_id, movie_id, rating, rated_at FROM ratings ORDER BY rated_at, user_id, movie_id");
  return rows.map((r) => ({
    user: Number(r.user_id),
    movie: Number(r.movie_id),
    rating: r.rating === null || r.rating === undefined ? null : Number(r.rating),
    ratedAt: Number(r.rated_at),
  }));
}

export async function readForgotten(query: D1Query): Promise<ForgottenUser[]> {
  const rows = await query("SELECT user_id, forgotten_at FROM forgotten_users ORDER BY user_id");
  return rows.map((r) => ({ user: Number(r.user_id), forgottenAt: Number(r.forgotten_at) }));
}

/** The live catalogue: movies added (or corrected) after training, by id. */
export async function readLiveMovies(query: D1Query): Promise<LiveMovie[]> {
  const rows = await query("SELECT id, title, year, genres FROM movies ORDER BY id");
  return rows.map((r) => {
    let genres: string[] = [];
    try {
      const parsed = JSON.parse(String(r.genres ?? "[]")) as unknown;
      if (Array.isArray(parsed)) genres = parsed.map(String);
    } catch {
      // the Worker writes JSON arrays only; anything else is read as no genre
    }
    return { movieId: Number(r.id), title: String(r.title), year: r.year === null || r.year === undefined ? null : Number(r.year), genres };
  });
}
