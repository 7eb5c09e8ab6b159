// The Worker's bindings and the variables every handler sees. The bindings' type, Env, is
// generated from wrangler.toml (and the secrets named in .dev.vars.example) by `npm run types`
// into worker/worker-configuration.d.ts; `npm run typecheck` fails while that file is stale.
import type { TimingVariables } from "hono/timing";
import type { LoadedModel, ModelStore } from "./model-store.ts";

/** The generated Env (a global interface), under its own name so it can be exported as Env. */
type GeneratedEnv = Env;
export type { GeneratedEnv as Env };

// metric: the Server-Timing of routes that report it (hono/timing)
export type AppEnv = { Bindings: GeneratedEnv; Variables: { model: LoadedModel; store: ModelStore } & TimingVariables };
