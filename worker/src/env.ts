// The Worker's bindings (wrangler.toml) and the variables every handler sees.
export interface Env {
  /** R2 bucket holding models/<version>/... and models/current.json. */
  MODELS: R2Bucket;
  /** When set (a secret), every route but /health requires `Authorization: Bearer <token>`. */
  API_TOKEN?: string;
  /** How often, at most, the Worker looks for a new models/current.json. */
  MODEL_REFRESH_SECONDS?: string;
}

export type AppEnv = { Bindings: Env };
