-- The live catalogue (docs/catalogue.md): movies added or corrected after training through
-- POST /admin/movies. Searchable at once; a movie the served bundle does not have is scored by
-- item fold-in from its raters' live ratings (or its genres before any), and the next training
-- (npm run retrain) reads this table so the movie joins the model.
CREATE TABLE movies (
  id INTEGER PRIMARY KEY,
  -- MovieLens style: "Title (1999)"
  title TEXT NOT NULL,
  year INTEGER,
  -- JSON array of genre names, e.g. ["Comedy", "Drama"]
  genres TEXT NOT NULL DEFAULT '[]',
  -- unix seconds
  added_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
-- the fold-in reads the raters of the catalogue's movies: ratings by movie
CREATE INDEX ratings_by_movie ON ratings (movie_id, user_id);
-- a user's dismissed movies are read with their live ratings (never recommended again)
CREATE INDEX events_dismissed ON events (user_id, movie_id) WHERE type = 'dismiss';
