// The online metrics (docs/loop.md), aggregated by D1: one query per grouping (the whole range,
// or per hour or day), each a UNION ALL of three aggregates over the same (t, arm, model) keys:
// the lists served, the events of those lists, and the conversions (a shown movie rated 4 or
// more within the conversion window after its first impression). The isolate only reshapes rows.
import { loopDb } from "./d1.ts";

export interface MetricsRow {
  t: number;
  arm: string;
  model: string;
  lists: number;
  impressions: number;
  clicks: number;
  ctr: number | null;
  conversions: number;
  conversionRate: number | null;
  newUserShare: number | null;
  moviesShown: number;
  coverage: number | null;
}

// ?1 from, ?2 to (exclusive), ?3 bucket seconds (0: the whole range, t = from), ?4 conversion
// window seconds, ?5 catalogue size
const bucketOf = (col: string) => `CAST(CASE WHEN ?3 = 0 THEN ?1 ELSE CAST(${col} / ?3 AS INTEGER) * ?3 END AS INTEGER)`;

const METRICS_SQL = `
WITH attributed AS (
  SELECT e.user_id, e.movie_id, e.type, e.ts, s.arm, s.model
  FROM events e JOIN served s ON s.rec_id = e.rec_id
  WHERE e.ts >= ?1 AND e.ts < ?2
),
shown AS (
  SELECT arm, model, user_id, movie_id, MIN(ts) AS first_ts
  FROM attributed WHERE type = 'impression'
  GROUP BY arm, model, user_id, movie_id
),
parts AS (
  SELECT ${bucketOf("served_at")} AS t, arm, model, COUNT(*) AS lists, SUM(new_user) AS new_users,
         0 AS impressions, 0 AS clicks, 0 AS movies_shown, 0 AS shown_pairs, 0 AS conversions
  FROM served WHERE served_at >= ?1 AND served_at < ?2 GROUP BY 1, arm, model
  UNION ALL
  SELECT ${bucketOf("ts")}, arm, model, 0, 0, SUM(type = 'impression'), SUM(type = 'click'),
         COUNT(DISTINCT CASE WHEN type = 'impression' THEN movie_id END), 0, 0
  FROM attributed GROUP BY 1, arm, model
  UNION ALL
  SELECT ${bucketOf("first_ts")}, arm, model, 0, 0, 0, 0, 0, COUNT(*),
         SUM(EXISTS (SELECT 1 FROM ratings r WHERE r.user_id = shown.user_id AND r.movie_id = shown.movie_id
                     AND r.rating >= 4 AND r.rated_at >= shown.first_ts AND r.rated_at < shown.first_ts + ?4))
  FROM shown GROUP BY 1, arm, model
)
SELECT t, arm, model,
       SUM(lists) AS lists, SUM(impressions) AS impressions, SUM(clicks) AS clicks,
       CAST(SUM(clicks) AS REAL) / NULLIF(SUM(impressions), 0) AS ctr,
       SUM(conversions) AS conversions,
       CAST(SUM(conversions) AS REAL) / NULLIF(SUM(shown_pairs), 0) AS conversionRate,
       CAST(SUM(new_users) AS REAL) / NULLIF(SUM(lists), 0) AS newUserShare,
       SUM(movies_shown) AS moviesShown,
       CAST(SUM(movies_shown) AS REAL) / NULLIF(?5, 0) AS coverage
FROM parts GROUP BY t, arm, model ORDER BY t, arm, model`;

const UNATTRIBUTED_SQL = `SELECT COUNT(*) AS n FROM events e WHERE e.ts >= ?1 AND e.ts < ?2
  AND NOT EXISTS (SELECT 1 FROM served s WHERE s.rec_id = e.rec_id)`;

export interface MetricsQuery {
  from: number;
  to: number;
  /** Seconds per point of the series. */
  bucketSeconds: number;
  conversionSeconds: number;
  catalogue: number;
}

export function readMetrics(db: D1Database, q: MetricsQuery): Promise<{ totals: MetricsRow[]; series: MetricsRow[]; unattributed: number }> {
  const query = (bucket: number) => db.prepare(METRICS_SQL).bind(q.from, q.to, bucket, q.conversionSeconds, q.catalogue);
  return loopDb(async () => {
    const [totals, series, unattributed] = await db.batch([query(0), query(q.bucketSeconds), db.prepare(UNATTRIBUTED_SQL).bind(q.from, q.to)]);
    return {
      totals: totals.results as MetricsRow[],
      series: series.results as MetricsRow[],
      unattributed: (unattributed.results[0] as { n: number }).n,
    };
  });
}
