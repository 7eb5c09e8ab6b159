// Per-user data in D1 (Manifest.per_user "d1"): one user's snapshot, the movies they rated and
// the train history model.onnx ranks, as rows of the `snapshots` table (worker/migrations), so a
// recommendation reads it in the same D1 round trip as the user's live ratings. Written by
// `npm run publish` (publish/snapshot-sql.ts) before the pointer moves, read by the Worker.

/** The table and its key: (version, user id, part), so versions never meet each other's rows. */
export const SNAPSHOTS_TABLE = "snapshots";

/**
 * A snapshot longer than this is split over rows with part 0, 1, ...: D1 caps a statement at
 * 100 KB, and a BLOB travels in SQL as hex, two characters a byte.
 */
export const SNAPSHOT_PART_BYTES = 32_768;

/**
 * The Worker's read of one user's rows (?1 the version, ?2 the user id), parts in order. When the
 * version has no rows at all (publishing has pruned it: two newer versions came since the
 * isolate loaded it) the answer is one row with part VERSION_GONE_PART instead, so a missing
 * version is never mistaken for an unknown user, at no extra round trip.
 */
export const SNAPSHOT_SELECT =
  `SELECT part, data FROM ${SNAPSHOTS_TABLE} WHERE version = ?1 AND user_id = ?2 ` +
  `UNION ALL SELECT -1 AS part, NULL AS data WHERE NOT EXISTS (SELECT 1 FROM ${SNAPSHOTS_TABLE} WHERE version = ?1) ORDER BY part`;
export const VERSION_GONE_PART = -1;

export interface SnapshotValue {
  /** The user's row in the model. */
  index: number;
  /** Every movie the user rated in the snapshot (internal item indices). */
  rated: Uint16Array | Uint32Array;
  /** The user's train positives (empty when model.onnx does not rank histories). */
  history: Uint16Array | Uint32Array;
}

const HEADER_BYTES = 12;

/** Entries are uint16 for catalogues of at most 65,536 items, else uint32 (as in rated.bin). */
export function snapshotEntryBytes(items: number): 2 | 4 {
  return items <= 65536 ? 2 : 4;
}

/**
 * Layout: three uint32, little-endian (the user's index, the count of rated entries, the count
 * of history entries), then the rated entries, then the history entries.
 */
export function encodeSnapshot(index: number, rated: ArrayLike<number>, history: ArrayLike<number>, items: number): Uint8Array {
  const width = snapshotEntryBytes(items);
  const out = new Uint8Array(HEADER_BYTES + (rated.length + history.length) * width);
  const header = new DataView(out.buffer);
  header.setUint32(0, index, true);
  header.setUint32(4, rated.length, true);
  header.setUint32(8, history.length, true);
  const entries = width === 2 ? new Uint16Array(out.buffer, HEADER_BYTES) : new Uint32Array(out.buffer, HEADER_BYTES);
  for (let k = 0; k < rated.length; k++) entries[k] = rated[k];
  for (let k = 0; k < history.length; k++) entries[rated.length + k] = history[k];
  return out;
}

export function decodeSnapshot(bytes: ArrayBuffer, items: number): SnapshotValue {
  const width = snapshotEntryBytes(items);
  if (bytes.byteLength < HEADER_BYTES) throw new Error(`a user snapshot of ${bytes.byteLength} bytes is shorter than its header`);
  const header = new DataView(bytes);
  const [index, nRated, nHistory] = [header.getUint32(0, true), header.getUint32(4, true), header.getUint32(8, true)];
  if (bytes.byteLength !== HEADER_BYTES + (nRated + nHistory) * width) {
    throw new Error(`a user snapshot of ${bytes.byteLength} bytes does not match its header (${nRated} rated, ${nHistory} history entries)`);
  }
  const view = width === 2 ? Uint16Array : Uint32Array;
  return { index, rated: new view(bytes, HEADER_BYTES, nRated), history: new view(bytes, HEADER_BYTES + nRated * width, nHistory) };
}

/** The parts of one snapshot, in order, joined back into its bytes. */
export function joinSnapshotParts(parts: readonly ArrayBuffer[]): ArrayBuffer {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), at);
    at += p.byteLength;
  }
  return out.buffer;
}
