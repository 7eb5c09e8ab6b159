// users.bin, the per-user records the Worker reads by range when a bundle leaves per-user data in
// R2: one fixed-size record per user id, and the byte ranges of a user's rows in rated.bin.
import { describe, expect, it } from "vitest";
import {
  MAX_DIRECT_USER_ID,
  USER_RECORD,
  decodeRated,
  decodeUserRecord,
  encodeRated,
  encodeUserRecords,
  ratedRowRange,
  userRecordOffset,
} from "../src/contract/artifacts.ts";

const record = (file: Uint8Array, id: number) => decodeUserRecord(file.slice(userRecordOffset(id), userRecordOffset(id) + USER_RECORD.bytes).buffer);

describe("users.bin", () => {
  const userIds = [3, 7, 10];
  const rated = { indptr: [0, 2, 5, 6] };
  const history = { indptr: [0, 1, 3, 4] };

  it("holds each user's index and rows at the record of its id, and null for ids that are no user's", () => {
    const file = encodeUserRecords(userIds, rated, history);
    expect(file.byteLength).toBe(USER_RECORD.header + 11 * USER_RECORD.bytes);
    expect(record(file, 3)).toEqual({ index: 0, rated: [0, 2], history: [0, 1] });
    expect(record(file, 7)).toEqual({ index: 1, rated: [2, 5], history: [1, 3] });
    expect(record(file, 10)).toEqual({ index: 2, rated: [5, 6], history: [3, 4] });
    for (const id of [0, 1, 4, 9]) expect(record(file, id)).toBeNull();
    expect(encodeUserRecords(userIds, rated, null).subarray(userRecordOffset(7) + 12, userRecordOffset(7) + 20)).toEqual(new Uint8Array(8));
  });

  it("refuses ids too large to address directly, and a record of the wrong size", () => {
    expect(() => encodeUserRecords([MAX_DIRECT_USER_ID + 1], { indptr: [0, 1] }, null)).toThrow(/renumber the users/);
    expect(() => decodeUserRecord(new ArrayBuffer(8))).toThrow(/a record is 20 bytes/);
  });

  it("points at a user's entries in rated.bin, with 2-byte and 4-byte item indices", () => {
    for (const items of [300, 70_000]) {
      const indices = [5, 9, 1, 2, 299, 7];
      const bytes = encodeRated(3, items, rated.indptr, indices);
      const csr = decodeRated(bytes.buffer as ArrayBuffer);
      const { offset, length, indexBytes } = ratedRowRange(3, items, [2, 5]);
      expect(indexBytes).toBe(items <= 65536 ? 2 : 4);
      const row = bytes.slice(offset, offset + length).buffer;
      const entries = indexBytes === 2 ? new Uint16Array(row) : new Uint32Array(row);
      expect(Array.from(entries)).toEqual(Array.from(csr.indices.subarray(2, 5)));
    }
  });
});
