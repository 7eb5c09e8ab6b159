// Events in D1: one INSERT for the whole batch, so it is stored all or nothing, and idempotent by
// id (ON CONFLICT DO NOTHING: an id already stored, or repeated in the batch, is skipped). The
// batch travels as one JSON parameter (D1 binds at most 100 parameters a statement).
import type { z } from "@hono/zod-openapi";
import type { EventInput } from "../api/loop-schemas.ts";
import { loopDb } from "./d1.ts";

export type LoopEvent = z.infer<typeof EventInput>;

/** Stores the events; returns how many were new. */
export function storeEvents(db: D1Database, events: LoopEvent[], now: number): Promise<number> {
  const rows = events.map((e) => [e.id, e.userId, e.movieId, e.type, e.recId, e.ts]);
  return loopDb(async () => {
    const { results } = await db
      .prepare(
        `INSERT INTO events (id, user_id, movie_id, type, rec_id, ts, received_at)
         SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'),
                json_extract(value, '$[4]'), json_extract(value, '$[5]'), ?2
         FROM json_each(?1) WHERE true
         ON CONFLICT (id) DO NOTHING
         RETURNING id`,
      )
      .bind(JSON.stringify(rows), now)
      .all<{ id: string }>();
    return results.length;
  });
}
