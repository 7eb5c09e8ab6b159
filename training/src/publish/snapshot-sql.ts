// The SQL that loads a bundle's per-user data into D1 (Manifest.per_user "d1"): one row per user
// (more for snapshots over SNAPSHOT_PART_BYTES), built from the bundle's users.bin, rated.bin and
// history.bin. Rows go in multi-row INSERTs of up to about 90 KB each: D1 caps a statement at
// 100 KB, and on the local D1 one 90 KB statement costs what one single-row INSERT does (20
// times faster than a statement per user, measured). The same text runs locally (through the
// D1 binding) and remotely (`wrangler d1 execute --remote --file`). Portable: no Node APIs.
import { BUNDLE_FILES, type Manifest, USER_RECORD, decodeRated, decodeUserRecord, userRecordOffset } from "../contract/artifacts.ts";
import { SNAPSHOTS_TABLE, SNAPSHOT_PART_BYTES, encodeSnapshot } from "../contract/user-snapshots.ts";

/** Statements stay under D1's 100 KB limit with room for the INSERT itself. */
const MAX_STATEMENT_CHARS = 90_000;

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

function hex(bytes: Uint8Array): string {
  const parts = new Array<string>(bytes.length);
  for (let k = 0; k < bytes.length; k++) parts[k] = HEX[bytes[k]];
  return parts.join("");
}

/** A version id goes into the SQL as a literal: only the characters versionFor writes are allowed. */
export function isSqlSafeVersion(version: string): boolean {
  return /^[A-Za-z0-9._-]{1,200}$/.test(version);
}

export function versionLiteral(version: string): string {
  if (!isSqlSafeVersion(version)) throw new Error(`version ${JSON.stringify(version)} has characters a D1 snapshot row cannot name it by`);
  return `'${version}'`;
}

function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

export interface SnapshotRows {
  users: number;
  rows: number;
  bytes: number;
}

/**
 * The statements that put `manifest.version`'s snapshots into D1, first deleting any rows a
 * failed earlier attempt left for the same version. `counts` is filled in as it goes.
 */
export function* snapshotStatements(
  manifest: Manifest,
  files: Map<string, Uint8Array>,
  counts: SnapshotRows = { users: 0, rows: 0, bytes: 0 },
): Generator<string> {
  const need = (name: string): ArrayBuffer => {
    const b = files.get(name);
    if (!b) throw new Error(`${name} is missing from the bundle of ${manifest.version}: a per_user "d1" bundle needs it to load D1`);
    return arrayBufferOf(b);
  };
  const version = versionLiteral(manifest.version);
  const usersBin = need(BUNDLE_FILES.users);
  const rated = decodeRated(need(BUNDLE_FILES.rated));
  const history = manifest.files.history ? decodeRated(need(BUNDLE_FILES.history)) : null;
  const row = (csr: typeof rated | null, u: number) => (csr ? csr.indices.subarray(csr.indptr[u], csr.indptr[u + 1]) : []);
  yield `DELETE FROM ${SNAPSHOTS_TABLE} WHERE version = ${version}`;
  const insert = `INSERT INTO ${SNAPSHOTS_TABLE} (version, user_id, part, data) VALUES `;
  let values: string[] = [];
  let chars = insert.length;
  for (let id = 0; userRecordOffset(id) + USER_RECORD.bytes <= usersBin.byteLength; id++) {
    const record = decodeUserRecord(usersBin.slice(userRecordOffset(id), userRecordOffset(id) + USER_RECORD.bytes));
    if (!record) continue;
    const snapshot = encodeSnapshot(record.index, row(rated, record.index), row(history, record.index), manifest.items);
    counts.users++;
    counts.bytes += snapshot.byteLength;
    for (let at = 0, part = 0; at < snapshot.byteLength; at += SNAPSHOT_PART_BYTES, part++) {
      const value = `(${version},${id},${part},X'${hex(snapshot.subarray(at, at + SNAPSHOT_PART_BYTES))}')`;
      if (values.length > 0 && chars + value.length + 1 > MAX_STATEMENT_CHARS) {
        yield insert + values.join(",");
        values = [];
        chars = insert.length;
      }
      values.push(value);
      chars += value.length + 1;
      counts.rows++;
    }
  }
  if (values.length > 0) yield insert + values.join(",");
  // users who asked to be forgotten (DELETE /users/:id, migration 0003) are never loaded again,
  // even by republishing a model trained before they asked: the Worker then serves them as new
  yield forgottenStatement(manifest.version);
}

/** Deletes the version's rows of every user in forgotten_users (the table the Worker's DELETE /users/:id fills). */
export function forgottenStatement(version: string): string {
  return `DELETE FROM ${SNAPSHOTS_TABLE} WHERE version = ${versionLiteral(version)} AND user_id IN (SELECT user_id FROM forgotten_users)`;
}

/** A SQL string literal: single quotes doubled. */
function textLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/**
 * The audit_log row (migration 0003) of a publication by this CLI: actor "cli", read with GET
 * /admin/audit beside the Worker's own "model.publish" row for the version it sees served.
 */
export function publishAuditStatement(manifest: Pick<Manifest, "version" | "model">, publishedAt: Date): string {
  const at = publishedAt.getTime();
  const detail = JSON.stringify({ model: manifest.model, published: publishedAt.toISOString() });
  return `INSERT INTO audit_log (at, actor, action, subject, detail, dedupe) VALUES (${at}, 'cli', 'model.publish', ${versionLiteral(manifest.version)}, ${textLiteral(detail)}, ${textLiteral(`cli:publish:${manifest.version}:${at}`)}) ON CONFLICT (dedupe) DO NOTHING`;
}

/** After the pointer moved: only the rows of the served version and of the previous versions the pointer keeps (isolates that have not refreshed, or that cannot load the served one, serve them) stay. */
export function pruneStatement(keep: readonly string[]): string {
  return `DELETE FROM ${SNAPSHOTS_TABLE} WHERE version NOT IN (${keep.map(versionLiteral).join(", ")})`;
}
