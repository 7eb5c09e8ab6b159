// The publish records (migration 0006, table model_publishes): every version retrain or rollback
// puts in service, with its metrics, the data window it was trained on and who did it. GET
// /admin/models lists them; rollback finds the previous version in them.
import { isSqlSafeVersion } from "../publish/snapshot-sql.ts";
import type { D1Query } from "./live-data.ts";

export const PUBLISHES_TABLE = "model_publishes";

export interface PublishRecord {
  version: string;
  action: "publish" | "rollback";
  /** The version it replaced ("" or null: none was served). */
  previous: string | null;
  metrics: unknown;
  window: unknown;
  actor: string;
  /** Unix milliseconds. */
  at: number;
}

const text = (s: string): string => `'${s.replace(/'/g, "''")}'`;

export function recordStatement(r: PublishRecord): string {
  if (!isSqlSafeVersion(r.version)) throw new Error(`version ${JSON.stringify(r.version)} cannot be recorded`);
  return `INSERT INTO ${PUBLISHES_TABLE} (version, action, previous, metrics, data_window, actor, published_at) VALUES (${text(r.version)}, ${text(r.action)}, ${r.previous ? text(r.previous) : "NULL"}, ${text(JSON.stringify(r.metrics ?? null))}, ${text(JSON.stringify(r.window ?? null))}, ${text(r.actor)}, ${Math.trunc(r.at)})`;
}

/** Every record, newest first. */
export async function readRecords(query: D1Query): Promise<PublishRecord[]> {
  const rows = await query(`SELECT version, action, previous, metrics, data_window, actor, published_at FROM ${PUBLISHES_TABLE} ORDER BY id DESC`);
  return rows.map((r) => ({
    version: String(r.version),
    action: r.action === "rollback" ? "rollback" : "publish",
    previous: r.previous === null || r.previous === undefined ? null : String(r.previous),
    metrics: JSON.parse(String(r.metrics ?? "null")),
    window: JSON.parse(String(r.data_window ?? "null")),
    actor: String(r.actor),
    at: Number(r.published_at),
  }));
}

/**
 * The version served before `current`: the one its newest record says it replaced; failing that
 * (an older record without it), the newest record before current's that names another version.
 * Rolling back twice therefore swaps back: a rollback's record names what it replaced.
 */
export function previousVersion(records: readonly PublishRecord[], current: string): string | null {
  const at = records.findIndex((r) => r.version === current);
  if (at >= 0 && records[at].previous && records[at].previous !== current) return records[at].previous;
  for (let i = at + 1; i < records.length; i++) if (records[i].version !== current) return records[i].version;
  return null;
}
