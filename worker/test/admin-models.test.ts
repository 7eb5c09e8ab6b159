// GET /admin/models: the publish records retrain and rollback write (migration 0006), newest
// first, page by page, for the admin token only.
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { recordStatement } from "../../training/src/retrain/records.ts";
import { BROKEN_DB, SECURED, asAdmin, asUser, freshApp, recordErrors } from "./trust-helpers.ts";

interface ModelsBody {
  publishes: { id: number; version: string; action: string; previous: string | null; metrics: unknown; window: unknown; actor: string; publishedAt: number }[];
  next: number | null;
}

describe("GET /admin/models", () => {
  beforeAll(async () => {
    await env.DB.exec("DELETE FROM model_publishes");
    const records = [
      { version: "ease-1", action: "publish", previous: null, metrics: { test: { "ndcg@10": 0.3 } }, window: { from: null, to: null }, actor: "ci", at: 1000 },
      {
        version: "ease-2",
        action: "publish",
        previous: "ease-1",
        metrics: { test: { "ndcg@10": 0.31 } },
        window: { from: "2026-12-01T00:00:00.000Z" },
        actor: "ci",
        at: 2000,
      },
      { version: "ease-1", action: "rollback", previous: "ease-2", metrics: null, window: { from: "ease-2" }, actor: "ops", at: 3000 },
    ] as const;
    for (const r of records) await env.DB.prepare(recordStatement(r)).run();
  });

  it("lists every publish and rollback, newest first, with metrics, data window and who", async () => {
    const { call } = freshApp();
    const res = await call("/admin/models", { headers: asAdmin });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = await res.json<ModelsBody>();
    expect(body.publishes.map((p) => [p.version, p.action, p.previous, p.actor, p.publishedAt])).toEqual([
      ["ease-1", "rollback", "ease-2", "ops", 3000],
      ["ease-2", "publish", "ease-1", "ci", 2000],
      ["ease-1", "publish", null, "ci", 1000],
    ]);
    expect(body.publishes[1].metrics).toEqual({ test: { "ndcg@10": 0.31 } });
    expect(body.publishes[1].window).toEqual({ from: "2026-12-01T00:00:00.000Z" });
    expect(body.next).toBeNull();
  });

  it("pages with limit and before", async () => {
    const { call } = freshApp();
    const first = await (await call("/admin/models?limit=2", { headers: asAdmin })).json<ModelsBody>();
    expect(first.publishes.map((p) => p.publishedAt)).toEqual([3000, 2000]);
    expect(first.next).not.toBeNull();
    const second = await (await call(`/admin/models?limit=2&before=${first.next}`, { headers: asAdmin })).json<ModelsBody>();
    expect(second.publishes.map((p) => p.publishedAt)).toEqual([1000]);
    expect(second.next).toBeNull();
  });

  it("is for the admin token only, and answers 503 when D1 is down", async () => {
    const { call } = freshApp();
    expect((await call("/admin/models")).status).toBe(401);
    expect((await call("/admin/models", { headers: await asUser(42) })).status).toBe(403);
    expect((await call("/admin/models?limit=0", { headers: asAdmin })).status).toBe(400);
    const logged = recordErrors();
    const res = await call("/admin/models", { headers: asAdmin }, { ...SECURED, DB: BROKEN_DB });
    expect(res.status).toBe(503);
    expect(logged).toHaveBeenCalledTimes(1);
    logged.mockRestore();
    expect((await res.json<{ error: string }>()).error).toBe("live_store_unavailable");
  });
});
