-- Closing the loop (docs/loop.md): which list was served to whom by which arm and model, what
-- users did with it, and the A/B experiment that picks the arm. Rows older than
-- LOOP_RETENTION_DAYS are deleted by the Worker (at most once an hour per isolate).

-- One row per list answered by GET /users/:id/recs or POST /recs, written after the answer
-- (waitUntil). movies: the JSON array of movie ids shown, kept for LOOP_LIST_SAMPLE of the lists
-- (NULL for the others); shown: how many were shown, always.
CREATE TABLE served (
  rec_id TEXT PRIMARY KEY,
  -- NULL: a visitor's history (POST /recs) with no user behind it
  user_id INTEGER,
  experiment TEXT,
  arm TEXT NOT NULL,
  model TEXT NOT NULL,
  -- 1 when the user was not in the model (folded in from a history): the new-user share
  new_user INTEGER NOT NULL CHECK (new_user IN (0, 1)),
  shown INTEGER NOT NULL,
  movies TEXT,
  -- unix seconds
  served_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX served_by_time ON served (served_at, arm, model);

-- What users did with a list. id is the client's: a retried batch stores each event once.
CREATE TABLE events (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL,
  movie_id INTEGER NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('impression', 'click', 'play', 'dismiss')),
  rec_id TEXT NOT NULL,
  -- unix seconds, when it happened (the client's clock)
  ts INTEGER NOT NULL,
  received_at INTEGER NOT NULL
) WITHOUT ROWID;
-- metrics: events of a time range joined to their list
CREATE INDEX events_by_time ON events (ts, type, rec_id);
CREATE INDEX events_by_list ON events (rec_id, type);
-- retention
CREATE INDEX events_by_received ON events (received_at);

-- The A/B experiment: one at a time (id = 1). arms: JSON [{"name", "share", "version"}].
CREATE TABLE experiment (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  name TEXT NOT NULL,
  arms TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);
