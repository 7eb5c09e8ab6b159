// The Worker's bindings (wrangler.toml) and the variables every handler sees.
import type { TimingVariables } from "hono/timing";
import type { LoadedModel, ModelStore } from "./model-store.ts";
export interface Env {
  /** R2 bucket holding models/<version>/... and models/current.json. */
  MODELS: R2Bucket;
  /** D1 database of live ratings (worker/migrations). */
  DB: D1Database;
  /**
   * A secret. When set, every route but /health requires `Authorization: Bearer <token>`.
   * Writes and history reads always need it: without it they answer 403.
   */
  API_TOKEN?: string;
  /** How often, at most, the Worker looks for a new models/current.json (and retries a failed load). */
  MODEL_REFRESH_SECONDS?: string;
  /** How long a model load may take before waiting requests get 503 (default 10). */
  MODEL_LOAD_TIMEOUT_SECONDS?: string;
  /**
   * How a new version replaces the served one: "overlap" (default) builds the new sessions while
   * the old version keeps answering; "release-first" lets the requests in flight finish, releases
   * the old sessions, then builds the new ones (requests meanwhile wait), so the isolate never
   * holds two versions' sessions: for catalogues whose tables would not fit twice in 128 MB.
   */
  MODEL_SWAP?: string;
}

// metric: the Server-Timing of routes that report it (hono/timing)
export type AppEnv = { Bindings: Env; Variables: { model: LoadedModel; store: ModelStore } & TimingVariables };
