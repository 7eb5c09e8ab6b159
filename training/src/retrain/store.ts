// Where retrain and rollback read and write: D1 for live data and the publish records, R2 for the
// bundles and the pointer. Local (what `wrangler dev` serves from) or remote (through wrangler).
import { readFileSync } from "node:fs";
import { BUNDLE_FILES, type CurrentPointer, type Manifest, R2_POINTER, r2Key } from "../contract/artifacts.ts";
import { d1Binding, migrateLocal, migrateRemote } from "../publish/d1-migrations.ts";
import type { Bundle, R2Target } from "../publish/publish.ts";
import { localTarget, remoteSnapshotTarget, remoteTarget } from "../publish/targets.ts";
import { type D1Query, localD1Query, remoteD1Query } from "./live-data.ts";

export interface Store {
  describe: string;
  /** Reads D1 (live ratings, forgotten users, publish records). */
  query: D1Query;
  /** Applies the D1 migrations still pending (the record table, 0006), only when some are. */
  migrate(): Promise<void>;
  /** R2 with, beside it, the D1 writes go to (`snapshots`: the record statement goes there too). */
  openTarget(): Promise<R2Target>;
}

export async function localStore(persistTo: string | undefined, log: (line: string) => void): Promise<Store> {
  const { query, describe } = await localD1Query(persistTo);
  return {
    describe,
    query,
    migrate: async () => void (await migrateLocal({ persistTo, log })),
    openTarget: () => localTarget("MODELS", persistTo, log),
  };
}

function bucketName(): string {
  const toml = readFileSync("wrangler.toml", "utf8");
  const m = /\[\[r2_buckets\]\][^[]*?bucket_name\s*=\s*"([^"]+)"/s.exec(toml);
  if (!m) throw new Error("wrangler.toml declares no [[r2_buckets]] bucket_name");
  return m[1];
}

export async function remoteStore(log: (line: string) => void): Promise<Store> {
  const { query, describe } = await remoteD1Query();
  const db = await d1Binding();
  return {
    describe,
    query,
    migrate: async () => void (await migrateRemote({ log })),
    openTarget: async () => ({ ...remoteTarget(bucketName()), snapshots: remoteSnapshotTarget(db.databaseName) }),
  };
}

const json = <T>(bytes: Uint8Array): T => JSON.parse(new TextDecoder().decode(bytes)) as T;

export async function readPointer(target: R2Target): Promise<CurrentPointer | null> {
  const stored = await target.get(R2_POINTER);
  if (!stored) return null;
  try {
    return json<CurrentPointer>(stored.bytes);
  } catch {
    return null;
  }
}

/** A published version's manifest and every file it lists, from R2 (its files stay there after later publishes). */
export async function bundleFromR2(target: R2Target, version: string, only?: readonly string[]): Promise<Bundle> {
  const manifestBytes = await target.get(r2Key(version, BUNDLE_FILES.manifest));
  if (!manifestBytes) throw new Error(`${r2Key(version, BUNDLE_FILES.manifest)} is not in ${target.describe}: that version's files are gone`);
  const manifest = json<Manifest>(manifestBytes.bytes);
  const files = new Map<string, Uint8Array>([[BUNDLE_FILES.manifest, manifestBytes.bytes]]);
  for (const key of Object.keys(manifest.files) as (keyof typeof BUNDLE_FILES)[]) {
    const name = BUNDLE_FILES[key];
    if (only && !only.includes(name)) continue;
    const stored = await target.get(r2Key(version, name));
    if (!stored) throw new Error(`${r2Key(version, name)} is not in ${target.describe}: that version cannot be served again`);
    files.set(name, stored.bytes);
  }
  return { manifest, files };
}
