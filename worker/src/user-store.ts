// Per-user data of a published version: a user id's internal index, the movies the user rated in
// the snapshot, and (for graphs that rank histories) the user's train history. Small bundles
// keep it in memory with the model; large ones (Manifest.per_user "r2") leave it in R2 and read
// one user's record and rows by range per request, so the isolate's memory does not grow with
// the number of users.
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
