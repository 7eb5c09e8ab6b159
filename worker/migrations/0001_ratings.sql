-- Live interactions: what users rated after the published snapshot (the snapshot itself is
-- rated.bin in the model bundle). One row per (user, movie); a re-rating replaces the row.
CREATE TABLE ratings (
  user_id INTEGER NOT NULL,
  movie_id INTEGER NOT NULL,
  -- 1..5; NULL means watched without a rating, which counts as a positive
  rating REAL CHECK (rating IS NULL OR (rating >= 1 AND rating <= 5)),
  -- unix seconds
  rated_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, movie_id)
) WITHOUT ROWID;
