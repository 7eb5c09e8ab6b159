// Middleware for the recommendation routes, in place of withModel: picks the experiment arm of
// the request's user, holds the model that arm serves (a pinned version, or the current model),
// and names the list (recId). The handler answers with c.var.loop and calls recordServed.
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { principalOf } from "../auth/principal.ts";
import type { AppEnv } from "../env.ts";
import { executionContext, withModel } from "../middleware.ts";
import { prefetchUserState } from "../edge/user-state.ts";
import { armModelsOf } from "./arm-models.ts";
import { assignArm } from "./assign.ts";
import { servingExperiment } from "./experiment-store.ts";
import { recordList } from "./served-log.ts";

/** The arm outside any experiment, and for lists with no user to assign. */
export const DEFAULT_ARM = "default";

export interface ListContext {
  recId: string;
  arm: string;
  experiment: string | null;
  userId: number | null;
}

declare module "hono" {
  interface ContextVariableMap {
    loop: ListContext;
  }
}

/** The user a user token names (POST /recs carries no user id of its own); null for the admin and anonymous callers. */
export function callerUserId(c: Context<AppEnv>): number | null {
  const caller = principalOf(c);
  return caller.role === "user" ? caller.userId : null;
}

/**
 * withArm for a route whose user is `userOf(c)` (null: a list for no user, served by arm
 * "default"). `readsUserState`: the handler reads the user's live state (edge/user-state.ts),
 * so a fresh isolate begins that read while its model loads.
 */
export function withArm(userOf: (c: Context<AppEnv>) => number | null, opts: { readsUserState?: boolean } = {}) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const userId = userOf(c);
    // a fresh isolate's model load begins now, not after the experiment's read from D1
    const ctx = executionContext(c);
    const loading = c.var.store.prepare(c.env, ctx ? (work) => ctx.waitUntil(work) : undefined);
    if (loading && opts.readsUserState && userId !== null && c.env.DB) prefetchUserState(c.env.DB, userId);
    const experiment = await servingExperiment(c.env);
    const arm = experiment && userId !== null ? await assignArm(experiment, userId) : null;
    c.set("loop", { recId: crypto.randomUUID(), arm: arm?.name ?? DEFAULT_ARM, experiment: arm ? (experiment?.name ?? null) : null, userId });
    const arms = armModelsOf(c.var.store);
    // no arm pins a version any more: the pinned one is let go
    if (experiment === null || experiment.arms.every((a) => a.version === null)) arms.drop();
    const lease = arm?.version ? await arms.acquire(c.env, arm.version) : null;
    if (!lease) return withModel(c, next);
    c.set("model", lease.model);
    try {
      await next();
    } finally {
      lease.release();
    }
    c.res.headers.set("x-model-version", lease.model.version);
  });
}

/** Records the list just answered (after the response, with the lists served beside it; see served-log.ts). */
export function recordServed(c: Context<AppEnv>, newUser: boolean, movies: number[]): void {
  const { recId, arm, experiment, userId } = c.var.loop;
  const list = { recId, userId, experiment, arm, model: c.var.model.version, newUser, movies };
  recordList(c, list, Math.floor(Date.now() / 1000));
}
