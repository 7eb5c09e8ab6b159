// GET /admin/models (the API_TOKEN only): every model version `npm run retrain` or `npm run
// rollback` put in service, newest first, with its metrics, the data window it was trained on and
// who did it (D1 table model_publishes, migration 0006; docs/retraining.md).
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { BEARER } from "../api/routes.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { log } from "../log.ts";
import { cache } from "../middleware.ts";
import { validationHook } from "../validation.ts";
import { adminOnly } from "./admin-only.ts";

const ErrorBody = z.object({ error: z.string(), message: z.string() }).openapi("Error");
const errors = {
  400: { content: { "application/json": { schema: ErrorBody } }, description: "a query parameter is wrong" },
  401: { content: { "application/json": { schema: ErrorBody } }, description: "no valid bearer token" },
  403: { content: { "application/json": { schema: ErrorBody } }, description: "not the admin token" },
  503: { content: { "application/json": { schema: ErrorBody } }, description: "D1 is not available" },
};

const ModelsQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(500).default(50).openapi({ description: "records per page (1 to 500, default 50)", example: 50 }),
    before: z.coerce.number().int().min(1).optional().openapi({ description: "the `next` of the previous page: records older than this id", example: 20 }),
  })
  .strict();
const PublishRecord = z
  .object({
    id: z.number(),
    version: z.string().openapi({ example: "lightgcn-20261204T201500123Z-a1b2c3" }),
    action: z.string().openapi({ example: "publish", description: '"publish" (retrain) or "rollback"' }),
    previous: z.string().nullable().openapi({ description: "the version it replaced (what a rollback goes back to)" }),
    metrics: z.unknown().openapi({ description: "the gate's checks (candidate and served NDCG@10) and the bundle's test metrics" }),
    window: z.unknown().openapi({ description: "the live ratings' time window trained on, how many, forgotten users left out" }),
    actor: z.string().openapi({ example: "ci" }),
    publishedAt: z.number().openapi({ description: "unix milliseconds" }),
  })
  .openapi("ModelPublish");

const modelsRoute = createRoute({
  method: "get",
  path: "/models",
  summary: "The model versions put in service by retrain and rollback, newest first (admin)",
  tags: ["admin"],
  security: [{ [BEARER]: [] }],
  request: { query: ModelsQuery },
  responses: {
    200: {
      content: { "application/json": { schema: z.object({ publishes: z.array(PublishRecord), next: z.number().nullable() }) } },
      description: "a page of records; `next` is the `before` of the following page (null: no more)",
    },
    ...errors,
  },
});

export const adminModels = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

adminModels.use("/models", adminOnly);
adminModels.use("/models", cache("no-store"));

const parsed = (text: unknown): unknown => {
  try {
    return JSON.parse(String(text ?? "null"));
  } catch {
    return null;
  }
};

adminModels.openapi(modelsRoute, async (c) => {
  const { limit, before } = c.req.valid("query");
  type Row = {
    id: number;
    version: string;
    action: string;
    previous: string | null;
    metrics: string | null;
    data_window: string | null;
    actor: string;
    published_at: number;
  };
  let rows: Row[];
  try {
    const sql = `SELECT id, version, action, previous, metrics, data_window, actor, published_at FROM model_publishes ${before ? "WHERE id < ?2 " : ""}ORDER BY id DESC LIMIT ?1`;
    const stmt = c.env.DB.prepare(sql);
    rows = (await (before ? stmt.bind(limit + 1, before) : stmt.bind(limit + 1)).all<Row>()).results;
  } catch (err) {
    log.error("D1 error (model publishes)", err);
    throw new ApiError(503, "live_store_unavailable", "the publish records (D1) are not available right now; try again shortly");
  }
  const publishes = rows.slice(0, limit).map((r) => ({
    id: r.id,
    version: r.version,
    action: r.action,
    previous: r.previous,
    metrics: parsed(r.metrics),
    window: parsed(r.data_window),
    actor: r.actor,
    publishedAt: r.published_at,
  }));
  return c.json({ publishes, next: rows.length > limit ? publishes[publishes.length - 1].id : null }, 200);
});
