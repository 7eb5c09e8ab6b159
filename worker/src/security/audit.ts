// The audit trail (audit_log, migration 0003): admin actions appended as they happen, and the
// operator's actions the Worker can only observe (a newly published model version, a changed
// configuration), each stored once however many isolates see it. Read with GET /admin/audit.
import { ApiError } from "../errors.ts";
import type { LoadedModel } from "../model-store.ts";
import { type TrustEnv, publicRecs } from "./settings.ts";
import { log } from "../log.ts";

export interface AuditEntry {
  actor: string;
  action: string;
  subject?: string | null;
  detail?: Record<string, unknown> | null;
}

export interface AuditRow {
  id: number;
  at: number;
  actor: string;
  action: string;
  subject: string | null;
  detail: Record<string, unknown> | null;
}

/** The INSERT for one entry: a statement, so it can join the batch of the action it records (all or nothing). */
export function auditStatement(db: D1Database, entry: AuditEntry, dedupe: string | null = null, now = Date.now()): D1PreparedStatement {
  return db
    .prepare("INSERT INTO audit_log (at, actor, action, subject, detail, dedupe) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (dedupe) DO NOTHING")
    .bind(now, entry.actor, entry.action, entry.subject ?? null, entry.detail ? JSON.stringify(entry.detail) : null, dedupe);
}

const storeDown = (err: unknown, what: string): ApiError => {
  log.error(`D1 error (${what})`, err);
  return new ApiError(503, "live_store_unavailable", `the audit log (D1) is not available right now (${what}); try again shortly`);
};

/** A page of entries, newest first, older than `before` (an id; none: from the newest). */
export async function auditPage(db: D1Database, limit: number, before: number | null): Promise<{ entries: AuditRow[]; next: number | null }> {
  try {
    const { results } = await db
      .prepare("SELECT id, at, actor, action, subject, detail FROM audit_log WHERE id < ?1 ORDER BY id DESC LIMIT ?2")
      .bind(before ?? Number.MAX_SAFE_INTEGER, limit + 1)
      .all<Omit<AuditRow, "detail"> & { detail: string | null }>();
    const entries = results.slice(0, limit).map((r) => ({ ...r, detail: r.detail ? (JSON.parse(r.detail) as Record<string, unknown>) : null }));
    return { entries, next: results.length > limit ? entries[entries.length - 1].id : null };
  } catch (err) {
    throw storeDown(err, "reading the audit log");
  }
}

/** What of the configuration is worth a record when it changes: settings and which secrets exist, never their values. */
export function configuration(env: TrustEnv): Record<string, unknown> {
  return {
    PUBLIC_RECS: publicRecs(env),
    CORS_ORIGINS: env.CORS_ORIGINS ?? "*",
    RATINGS_QUOTA: env.RATINGS_QUOTA ?? null,
    EVENTS_QUOTA: env.EVENTS_QUOTA ?? null,
    MODEL_REFRESH_SECONDS: env.MODEL_REFRESH_SECONDS ?? null,
    MODEL_SWAP: env.MODEL_SWAP ?? null,
    API_TOKEN: Boolean(env.API_TOKEN),
    USER_TOKEN_SECRET: Boolean(env.USER_TOKEN_SECRET),
    limiters: (["READ_LIMITER", "WRITE_LIMITER", "RECS_LIMITER"] as const).filter((b) => env[b] !== undefined),
  };
}

/** Observed events this isolate already stored (or saw stored): one D1 write per change per isolate. */
const recorded = new Set<string>();

/**
 * Records a model version served for the first time (a publish) and a configuration seen for the
 * first time (a change of vars or secrets), once each. Called by /health (monitors poll it) and
 * before GET /admin/audit answers, so the reader sees the current state. Never throws.
 */
export async function recordObserved(env: TrustEnv, model: LoadedModel | null): Promise<void> {
  const events: { entry: AuditEntry; dedupe: string }[] = [];
  const config = configuration(env);
  const configKey = `config:${JSON.stringify(config)}`;
  if (!recorded.has(configKey)) events.push({ entry: { actor: "worker", action: "config.change", detail: config }, dedupe: configKey });
  const modelKey = model ? `publish:${model.version}` : null;
  if (model && modelKey && !recorded.has(modelKey)) {
    events.push({ entry: { actor: "worker", action: "model.publish", subject: model.version, detail: { model: model.manifest.model } }, dedupe: modelKey });
  }
  if (events.length === 0 || !env.DB) return;
  try {
    await env.DB.batch(events.map((e) => auditStatement(env.DB, e.entry, e.dedupe)));
    for (const e of events) recorded.add(e.dedupe);
  } catch (err) {
    log.warn("audit: could not record an observed change", err);
  }
}
