-- Users who have (or had) live state in D1: a live rating, a dismissed movie, or a request to be
-- forgotten (docs/edge.md#known-users-without-live-state). An isolate keeps the whole set in
-- memory, so a known user who is not in it is answered from the bundle's snapshot with no D1
-- read at all. Each user is stamped once, in commit order (`seq`), so an isolate catches up by
-- reading only the rows after the last it saw. Rows are never removed: a user who deletes every
-- rating stays in the set and is read from D1 as before, which is always right.
-- Triggers keep it, so every writer does (the Worker, `wrangler d1 execute`, a test's SQL).
CREATE TABLE live_users (
  user_id INTEGER PRIMARY KEY,
  seq INTEGER NOT NULL UNIQUE
);

INSERT INTO live_users (user_id, seq)
SELECT user_id, ROW_NUMBER() OVER (ORDER BY user_id) FROM (
  SELECT user_id FROM ratings
  UNION SELECT user_id FROM events WHERE type = 'dismiss'
  UNION SELECT user_id FROM forgotten_users
);

CREATE TRIGGER live_users_rating AFTER INSERT ON ratings
WHEN NOT EXISTS (SELECT 1 FROM live_users WHERE user_id = NEW.user_id)
BEGIN
  INSERT INTO live_users (user_id, seq) VALUES (NEW.user_id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM live_users));
END;

CREATE TRIGGER live_users_dismissal AFTER INSERT ON events
WHEN NEW.type = 'dismiss' AND NOT EXISTS (SELECT 1 FROM live_users WHERE user_id = NEW.user_id)
BEGIN
  INSERT INTO live_users (user_id, seq) VALUES (NEW.user_id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM live_users));
END;

CREATE TRIGGER live_users_forgotten AFTER INSERT ON forgotten_users
WHEN NOT EXISTS (SELECT 1 FROM live_users WHERE user_id = NEW.user_id)
BEGIN
  INSERT INTO live_users (user_id, seq) VALUES (NEW.user_id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM live_users));
END;
