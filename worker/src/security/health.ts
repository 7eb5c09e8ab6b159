// GET /health: the model's state and D1's, for monitors. 200 while recommendations can be served
// ("degraded" when D1 is down: known users are still ranked from their snapshots, writes 503);
// 503 with the reason when no model can be served. With a secret configured it reveals only what
// the page needs before it has a token: status, version, whether similar movies exist, D1's state.
import type { RouteHandler } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { healthRoute } from "../api/routes.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import type { LoadedModel } from "../model-store.ts";
import { recordObserved } from "./audit.ts";
import { secured, trustEnv } from "./settings.ts";
import { log } from "../log.ts";

const D1_PING_TIMEOUT_MS = 2000;

/** "ok" when D1 answers a query on the tables this Worker needs within 2 s, else "unavailable". */
export async function d1State(db: D1Database | undefined): Promise<"ok" | "unavailable"> {
  if (!db) return "unavailable";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"unavailable">((resolve) => {
    timer = setTimeout(() => resolve("unavailable"), D1_PING_TIMEOUT_MS);
  });
  // (an async function: a binding that throws at once is as unavailable as one that rejects)
  const ping = (async () =>
    db.prepare("SELECT (SELECT count(*) FROM forgotten_users WHERE user_id = 0) + (SELECT count(*) FROM ratings WHERE user_id = 0) AS n").first())()
    .then((): "ok" => "ok")
    .catch((err: unknown): "unavailable" => {
      log.warn("health: D1 check failed", err);
      return "unavailable";
    });
  try {
    return await Promise.race([ping, timeout]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

function waitUntilOf(c: Context): ((p: Promise<unknown>) => void) | null {
  try {
    const ctx = c.executionCtx;
    return (p) => ctx.waitUntil(p);
  } catch {
    return null;
  }
}

function details(model: LoadedModel) {
  return {
    name: model.manifest.model,
    dataset: model.manifest.dataset,
    users: model.manifest.users,
    items: model.manifest.items,
    dim: model.manifest.dim,
    foldin: model.manifest.foldin ?? null,
    recs: model.recsFrom,
    // what ranks: model.onnx in onnxruntime-web, or vector.onnx then the Worker's int8 kernel
    ranker: model.ranker.kind,
    similar: model.similar !== null,
    loadedAt: model.loadedAt,
  };
}

export const health: RouteHandler<typeof healthRoute, AppEnv> = async (c) => {
  const env = trustEnv(c);
  const waitUntil = waitUntilOf(c);
  const [lease, d1] = await Promise.all([
    c.var.store.acquire(c.env, waitUntil ?? undefined).then(
      (l) => l,
      (err: unknown) => (err instanceof ApiError ? err : new ApiError(503, "model_unavailable", "no model can be served right now")),
    ),
    d1State(c.env.DB),
  ]);
  if (lease instanceof ApiError) {
    // the model cannot be served: the error's code and message (never internals), and D1's state
    // (always 503: what a failed model load throws)
    return c.json({ error: lease.code, message: lease.message, status: "unavailable", model: null, d1 }, 503, { "cache-control": "no-store" });
  }
  const model = lease.model;
  try {
    const observed = recordObserved(env, model);
    if (waitUntil) waitUntil(observed);
    else await observed;
    // an earlier version served because the published one will not load (model-store.ts): said, with why
    const fallback = c.var.store.degraded;
    const status = d1 === "ok" && !fallback ? ("ok" as const) : ("degraded" as const);
    const why = fallback ? { reason: fallback.reason, wanted: fallback.wanted } : {};
    c.header("x-model-version", model.version);
    if (secured(env)) return c.json({ status, model: model.version, similar: model.similar !== null, d1, ...why }, 200);
    return c.json({ status, model: model.version, ...details(model), d1, ...why }, 200);
  } finally {
    lease.release();
  }
};
