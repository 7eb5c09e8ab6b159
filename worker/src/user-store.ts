// Per-user data of a published version: a user id's internal index, the movies the user rated in
// the snapshot, and (for graphs that rank histories) the user's train history. Small bundles
// keep it in memory with the model; large ones leave it outside the isolate, so its memory does
// not grow with the number of users: in D1 (Manifest.per_user "d1", the default for large
// bundles), read with the user's live ratings in one round trip, or in R2 ("r2"), one user's
// record and rows read by range per request.
import {
  BUNDLE_FILES,
  type Manifest,
  type PerUserStore,
  type RatedCsr,
  USER_RECORD,
  decodeUserRecord,
  r2Key,
  ratedRowRange,
  userRecordOffset,
} from "../../training/src/contract/artifacts.ts";
import { SNAPSHOT_SELECT, VERSION_GONE_PART, decodeSnapshot, joinSnapshotParts } from "../../training/src/contract/user-snapshots.ts";
import { ApiError } from "./errors.ts";

export interface UserSnapshot {
  /** The user's row in the model. */
  index: number;
  /** Every movie the user rated in the snapshot (internal item indices). */
  rated: ArrayLike<number>;
  /** The user's train positives, when model.onnx ranks histories. */
  history: ArrayLike<number> | null;
}

export interface UserStore {
  readonly kind: PerUserStore;
  /** The user's snapshot, or null for a user the model was not trained on. */
  get(userId: number): Promise<UserSnapshot | null>;
}

/** What the D1 store needs of a statement and of the binding (structural: Node benches load bundles too). */
export interface SnapshotStatement {
  all<T = Record<string, unknown>>(): Promise<{ results: T[] }>;
}
export interface SnapshotDb {
  prepare(query: string): { bind(...values: unknown[]): SnapshotStatement };
}

/** Per-user data in D1: its query can join another in one batch (one round trip). */
export interface D1UserStore extends UserStore {
  readonly kind: "d1";
  /** The user's rows, parts in order: a statement of the binding the store was made with. */
  query(userId: number): SnapshotStatement;
  /** The snapshot from the query's rows (none: a user the model was not trained on). */
  fromRows(rows: readonly Record<string, unknown>[]): UserSnapshot | null;
}

/** What the R2 store needs of the bucket: ranged reads. */
export interface RangeBucket {
  get(key: string, options: { range: { offset: number; length: number } }): Promise<{ arrayBuffer(): Promise<ArrayBuffer> } | null>;
}

function row(csr: RatedCsr, u: number): Uint16Array | Uint32Array {
  return csr.indices.subarray(csr.indptr[u], csr.indptr[u + 1]);
}

export function memoryUsers(userIds: readonly number[], rated: RatedCsr, history: RatedCsr | null): UserStore {
  const index = new Map(userIds.map((id, i) => [id, i]));
  return {
    kind: "bundle",
    async get(userId) {
      const u = index.get(userId);
      return u === undefined ? null : { index: u, rated: row(rated, u), history: history ? row(history, u) : null };
    },
  };
}

export function r2Users(bucket: RangeBucket, manifest: Manifest, hasHistory: boolean): UserStore {
  const key = (file: string): string => r2Key(manifest.version, file);
  const read = async (file: string, offset: number, length: number): Promise<ArrayBuffer> => {
    if (length === 0) return new ArrayBuffer(0);
    const obj = await bucket.get(key(file), { range: { offset, length } });
    if (!obj) throw new ApiError(503, "model_unavailable", `${file} of ${manifest.version} is missing from R2`);
    const bytes = await obj.arrayBuffer();
    if (bytes.byteLength !== length) throw new ApiError(503, "model_unavailable", `${file} of ${manifest.version} is shorter than its records say`);
    return bytes;
  };
  const entries = async (file: string, range: [number, number]): Promise<Uint16Array | Uint32Array> => {
    const { offset, length, indexBytes } = ratedRowRange(manifest.users, manifest.items, range);
    const bytes = await read(file, offset, length);
    return indexBytes === 2 ? new Uint16Array(bytes) : new Uint32Array(bytes);
  };
  return {
    kind: "r2",
    async get(userId) {
      // ids past the end of users.bin belong to no user: R2 would answer a short or failed range
      if (!Number.isSafeInteger(userId) || userId < 0 || userId > manifest.max_user_id!) return null;
      const record = decodeUserRecord(await read(BUNDLE_FILES.users, userRecordOffset(userId), USER_RECORD.bytes));
      if (!record) return null;
      const [rated, history] = await Promise.all([
        entries(BUNDLE_FILES.rated, record.rated),
        hasHistory ? entries(BUNDLE_FILES.history, record.history) : null,
      ]);
      return { index: record.index, rated, history };
    },
  };
}

export function isD1Store(store: UserStore): store is D1UserStore {
  return store.kind === "d1";
}

/** D1 hands a BLOB back as an array of byte values or as an ArrayBuffer, depending on the runtime. */
function blobBytes(value: unknown): ArrayBuffer {
  if (value instanceof ArrayBuffer) return value;
  if (ArrayBuffer.isView(value)) return value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength) as ArrayBuffer;
  if (Array.isArray(value)) return Uint8Array.from(value as number[]).buffer;
  throw new Error("a snapshot row's data is not a BLOB");
}

export function d1Users(db: SnapshotDb, manifest: Manifest, hasHistory: boolean): D1UserStore {
  const query = (userId: number): SnapshotStatement => db.prepare(SNAPSHOT_SELECT).bind(manifest.version, userId);
  const fromRows = (rows: readonly Record<string, unknown>[]): UserSnapshot | null => {
    if (rows.length === 0) return null;
    if (rows.length === 1 && Number(rows[0].part) === VERSION_GONE_PART) {
      throw new ApiError(
        503,
        "model_unavailable",
        `the per-user data of ${manifest.version} is no longer in D1 (newer versions were published since this Worker loaded it); it serves the newest version within MODEL_REFRESH_SECONDS`,
      );
    }
    let snapshot: ReturnType<typeof decodeSnapshot>;
    try {
      snapshot = decodeSnapshot(joinSnapshotParts(rows.map((r) => blobBytes(r.data))), manifest.items);
    } catch (err) {
      throw new ApiError(
        503,
        "model_unavailable",
        `a user's snapshot of ${manifest.version} in D1 is damaged (${(err as Error).message}); publish the version again`,
      );
    }
    return { index: snapshot.index, rated: snapshot.rated, history: hasHistory ? snapshot.history : null };
  };
  return {
    kind: "d1",
    query,
    fromRows,
    async get(userId) {
      if (!Number.isSafeInteger(userId) || userId < 0) return null;
      const { results } = await query(userId).all<Record<string, unknown>>();
      return fromRows(results);
    },
  };
}
