-- Every model version `npm run retrain` or `npm run rollback` put in service (docs/retraining.md):
-- listed by GET /admin/models, and where rollback finds the version served before the current one.
CREATE TABLE model_publishes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  version TEXT NOT NULL,
  -- "publish" (retrain) or "rollback"
  action TEXT NOT NULL,
  -- the version it replaced (NULL: none was served): what the next rollback goes back to
  previous TEXT,
  -- JSON: the gate's checks (candidate vs served NDCG@10) and the bundle's test metrics
  metrics TEXT,
  -- JSON: the live ratings' time window trained on, how many, forgotten users left out
  data_window TEXT,
  -- who ran it: --actor, $GITHUB_ACTOR in CI, else the OS user
  actor TEXT NOT NULL,
  -- unix milliseconds
  published_at INTEGER NOT NULL
);
