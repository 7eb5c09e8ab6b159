-- Forgetting and the audit trail (docs/trust.md).

-- Users who asked to be forgotten (DELETE /users/:id): the Worker serves them as new users at
-- once, whatever the published model was trained on, and the next training leaves them out (it
-- reads this list: GET /admin/forgotten). A user who rates again afterwards is a new user.
CREATE TABLE forgotten_users (
  user_id INTEGER PRIMARY KEY,
  -- unix seconds of the (latest) deletion
  forgotten_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Admin actions, append-only: token minting, user deletion, and what the Worker observes of the
-- operator's (a newly published model version, a changed configuration). Read with GET
-- /admin/audit. `dedupe` lets every isolate report an observed event while it is stored once.
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  -- unix milliseconds
  at INTEGER NOT NULL,
  -- "admin", "user:42", "worker" (an observed change)
  actor TEXT NOT NULL,
  -- "token.mint", "user.delete", "model.publish", "config.change"
  action TEXT NOT NULL,
  -- what it acted on: "user:42", a model version
  subject TEXT,
  -- JSON details (never a token or a secret)
  detail TEXT,
  dedupe TEXT UNIQUE
);
