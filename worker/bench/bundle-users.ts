// The known user ids of an exported bundle, for the benches' traffic: ids.json lists them, or,
// when per-user data lives in R2 (ids.json's users empty), users.bin's records that hold a user.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BUNDLE_FILES, type IdMaps, USER_RECORD, decodeUserRecord, userRecordOffset } from "../../training/src/contract/artifacts.ts";

export function knownUserIds(dir: string, ids: IdMaps): number[] {
  if (ids.users.length > 0) return ids.users;
  const usersBin = readFileSync(join(dir, BUNDLE_FILES.users));
  const out: number[] = [];
  for (let id = 0; userRecordOffset(id) + USER_RECORD.bytes <= usersBin.byteLength; id++) {
    const at = usersBin.byteOffset + userRecordOffset(id);
    if (decodeUserRecord(usersBin.buffer.slice(at, at + USER_RECORD.bytes) as ArrayBuffer)) out.push(id);
  }
  return out;
}
