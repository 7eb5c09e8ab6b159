// Forgetting (DELETE /users/:id hides the trained-in history at once and lists the user for the
// next training) and the audit trail (GET /admin/audit, admin only, paginated).
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { SNAPSHOTS_TABLE } from "../../training/src/contract/user-snapshots.ts";
import { bundles, fixtureData, publish } from "./seed.ts";
import { BROKEN_DB, SECURED, asAdmin, asUser, freshApp, recordErrors } from "./trust-helpers.ts";

interface RecsBody {
  source: string;
  recommendations: { movieId: number }[];
}
interface AuditBody {
  entries: { id: number; at: number; actor: string; action: string; subject: string | null; detail: Record<string, unknown> | null }[];
  next: number | null;
}

describe("forgetting a user", () => {
  const [v1] = bundles();
  const d1Bundle = bundles().find((b) => b.version === "fixture-d1");
  const data = fixtureData(v1);

  beforeEach(async () => {
    await publish(env.MODELS, v1);
  });

  it("serves a deleted user as a new user at once, though the model was trained on them", async () => {
    const { call, send } = freshApp();
    const user = data.users[11];
    const auth = await asUser(user);
    const before = await call(`/users/${user}/recs`, { headers: auth });
    expect(before.status).toBe(200);
    expect((await before.json<RecsBody>()).source).toBe("model");
    await send("POST", `/users/${user}/ratings`, { ratings: [{ movieId: data.items[0], rating: 5 }] }, auth);
    const deleted = await call(`/users/${user}`, { method: "DELETE", headers: auth });
    expect(deleted.status).toBe(200);
    expect(await deleted.json()).toEqual({ user, deleted: 1 });
    const after = await call(`/users/${user}/recs`, { headers: auth });
    // nothing of theirs is left: the cold-start list, as for any user the model never saw
    expect(after.status).toBe(200);
    expect((await after.json<RecsBody>()).source).toBe("popular");
    // rating again makes them a new user, ranked from what they rate now (fold-in), not from training
    await send("POST", `/users/${user}/ratings`, { ratings: [{ movieId: data.items[1], rating: 5 }] }, auth);
    const fresh = await call(`/users/${user}/recs`, { headers: auth });
    expect(fresh.status).toBe(200);
    expect((await fresh.json<RecsBody>()).source).toBe("fold-in");
    await call(`/users/${user}`, { method: "DELETE", headers: asAdmin });
  });

  it("lists forgotten users for the next training on GET /admin/forgotten, page by page", async () => {
    const { call } = freshApp();
    const ids = [data.users[20], data.users[21], data.users[22]].sort((a, b) => a - b);
    for (const id of ids) expect((await call(`/users/${id}`, { method: "DELETE", headers: asAdmin })).status).toBe(200);
    const seen: number[] = [];
    let after = ids[0] - 1;
    for (let page = 0; page < 10; page++) {
      const res = await call(`/admin/forgotten?limit=2&after=${after}`, { headers: asAdmin });
      expect(res.status).toBe(200);
      const body = await res.json<{ users: { userId: number; forgottenAt: number }[]; next: number | null }>();
      seen.push(...body.users.map((u) => u.userId));
      for (const u of body.users) expect(Math.abs(u.forgottenAt - Date.now() / 1000)).toBeLessThan(600);
      if (body.next === null) break;
      after = body.next;
    }
    for (const id of ids) expect(seen).toContain(id);
    expect((await call("/admin/forgotten", { headers: await asUser(ids[0]) })).status).toBe(403);
  });

  it("erases the user's per-user rows of a per_user d1 bundle, so the snapshot is gone at once", async () => {
    if (!d1Bundle) throw new Error("the fixture-d1 bundle is missing");
    await publish(env.MODELS, d1Bundle);
    const { call } = freshApp();
    const user = data.users[4]; // the same model as v1, its per-user data in D1
    expect((await call(`/users/${user}/recs`, { headers: asAdmin })).status).toBe(200);
    expect((await call(`/users/${user}`, { method: "DELETE", headers: asAdmin })).status).toBe(200);
    const rows = await env.DB.prepare(`SELECT count(*) AS n FROM ${SNAPSHOTS_TABLE} WHERE user_id = ?1`).bind(user).first<{ n: number }>();
    expect(rows?.n).toBe(0);
    const after = await call(`/users/${user}/recs`, { headers: asAdmin });
    expect(after.status).toBe(200);
    expect((await after.json<RecsBody>()).source).toBe("popular");
  });

  it("answers 503 and forgets nothing when D1 fails", async () => {
    const { call } = freshApp();
    const user = data.users[30];
    const logged = recordErrors();
    const res = await call(`/users/${user}`, { method: "DELETE", headers: asAdmin }, { ...SECURED, DB: BROKEN_DB });
    expect(res.status).toBe(503);
    expect(logged).toHaveBeenCalledTimes(1);
    logged.mockRestore();
    expect(await res.json()).toMatchObject({ error: "live_store_unavailable", message: expect.stringMatching(/not deleted/) });
    expect(await env.DB.prepare("SELECT 1 FROM forgotten_users WHERE user_id = ?1").bind(user).first()).toBeNull();
    expect((await call(`/users/${user}/recs`, { headers: asAdmin })).status).toBe(200);
  });
});

describe("the audit trail", () => {
  const [v1] = bundles();
  const data = fixtureData(v1);

  beforeEach(async () => {
    await publish(env.MODELS, v1);
  });

  it("records token minting and deletions with who did them, newest first, page by page", async () => {
    const { call, send } = freshApp();
    const [a, b] = [data.users[40], data.users[41]];
    expect((await send("POST", "/admin/tokens", { user: a }, asAdmin)).status).toBe(200);
    expect((await call(`/users/${b}`, { method: "DELETE", headers: await asUser(b) })).status).toBe(200);
    expect((await send("POST", "/admin/tokens", { user: b, ttl: 3600 }, asAdmin)).status).toBe(200);
    // page through, two at a time (the Worker may add its own observations meanwhile)
    const seen: AuditBody["entries"] = [];
    let before: number | null = null;
    for (let page = 0; page < 20; page++) {
      const res = await call(`/admin/audit?limit=2${before === null ? "" : `&before=${before}`}`, { headers: asAdmin });
      expect(res.status).toBe(200);
      const body = await res.json<AuditBody>();
      expect(body.entries.length).toBeLessThanOrEqual(2);
      seen.push(...body.entries);
      if (body.next === null) break;
      expect(body.next).toBe(body.entries[body.entries.length - 1].id);
      before = body.next;
    }
    const ids = seen.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((x, y) => y - x)); // newest first, no entry twice
    expect(new Set(ids).size).toBe(ids.length);
    const mine = seen.filter((e) => e.subject === `user:${a}` || e.subject === `user:${b}`);
    expect(mine.map((e) => [e.actor, e.action, e.subject])).toEqual([
      ["admin", "token.mint", `user:${b}`],
      [`user:${b}`, "user.delete", `user:${b}`],
      ["admin", "token.mint", `user:${a}`],
    ]);
    for (const e of mine) expect(Math.abs(e.at - Date.now())).toBeLessThan(600_000);
    // never the token itself
    expect(JSON.stringify(seen)).not.toMatch(/eyJ/);
  });

  it("records a newly served model version and a changed configuration, once each", async () => {
    const { call } = freshApp();
    const changed = { ...SECURED, RATINGS_QUOTA: String(1000 + Math.floor(Math.random() * 1e6)) };
    expect((await call("/health", {}, changed)).status).toBe(200);
    expect((await call("/health", {}, changed)).status).toBe(200);
    const { entries } = await (await call("/admin/audit?limit=500", { headers: asAdmin }, changed)).json<AuditBody>();
    const configs = entries.filter((e) => e.action === "config.change" && e.detail?.RATINGS_QUOTA === changed.RATINGS_QUOTA);
    expect(configs).toHaveLength(1);
    expect(configs[0]).toMatchObject({ actor: "worker", detail: { PUBLIC_RECS: "off", API_TOKEN: true, USER_TOKEN_SECRET: true } });
    expect(JSON.stringify(configs[0])).not.toContain(SECURED.API_TOKEN);
    const publishes = entries.filter((e) => e.action === "model.publish" && e.subject === "fixture-v1");
    // the Worker's observation once; the publishing CLI adds its own row each time it moved the pointer
    expect(publishes.filter((e) => e.actor === "worker")).toHaveLength(1);
    expect(publishes.filter((e) => e.actor === "cli").length).toBeGreaterThanOrEqual(1);
    expect(publishes.filter((e) => e.actor !== "worker" && e.actor !== "cli")).toEqual([]);
  });

  it("is for the admin only, validates its paging, and answers 503 when D1 fails", async () => {
    const { call } = freshApp();
    expect((await call("/admin/audit")).status).toBe(401);
    expect((await call("/admin/audit", { headers: await asUser(data.users[0]) })).status).toBe(403);
    for (const query of ["limit=0", "limit=501", "before=x", "other=1"]) {
      const res = await call(`/admin/audit?${query}`, { headers: asAdmin });
      expect(res.status, query).toBe(400);
      expect((await res.json<{ error: string }>()).error).toBe("bad_request");
    }
    const logged = recordErrors();
    const down = await call("/admin/audit", { headers: asAdmin }, { ...SECURED, DB: BROKEN_DB });
    expect(down.status).toBe(503);
    expect(logged).toHaveBeenCalledTimes(1);
    logged.mockRestore();
    expect((await down.json<{ error: string }>()).error).toBe("live_store_unavailable");
  });
});
