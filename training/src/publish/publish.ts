// Uploads a serving bundle to R2: every file under models/<version>/, each checked against the
// manifest before upload and by size after it, then the small pointer models/current.json last,
// so a reader never sees a half-uploaded version.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BUNDLE_FILES, type CurrentPointer, type Manifest, R2_POINTER, r2Key } from "../contract/artifacts.ts";

/** The few R2 operations publishing needs (local: wrangler's platform proxy; remote: wrangler CLI). */
export interface R2Target {
  describe: string;
  put(key: string, bytes: Uint8Array, contentType: string): Promise<void>;
  /** Stored size in bytes, or null when the object does not exist. */
  size(key: string): Promise<number | null>;
  close(): Promise<void>;
}

const CONTENT_TYPES: Record<string, string> = {
  ".onnx": "application/octet-stream",
  ".bin": "application/octet-stream",
  ".json": "application/json",
};

function contentType(file: string): string {
  return CONTENT_TYPES[file.slice(file.lastIndexOf("."))] ?? "application/octet-stream";
}

export function readManifest(dir: string): Manifest {
  const path = join(dir, BUNDLE_FILES.manifest);
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Manifest;
  } catch {
    throw new Error(`${path} is missing or unreadable: train and export a model first (npm run train -- --model lightgcn)`);
  }
}

export async function publishBundle(dir: string, target: R2Target, log: (line: string) => void = () => {}): Promise<CurrentPointer> {
  const manifest = readManifest(dir);
  const files = Object.entries(manifest.files).map(([key, info]) => {
    const name = BUNDLE_FILES[key as keyof typeof BUNDLE_FILES];
    const bytes = readFileSync(join(dir, name));
    const sha = createHash("sha256").update(bytes).digest("hex");
    if (bytes.byteLength !== info.bytes || sha !== info.sha256) {
      throw new Error(`${join(dir, name)} does not match manifest.json (size or sha256): run \`npm run export\` again; nothing was uploaded`);
    }
    return { name, bytes };
  });
  const manifestName = BUNDLE_FILES.manifest;
  files.push({ name: manifestName, bytes: readFileSync(join(dir, manifestName)) });

  for (const f of files) {
    const key = r2Key(manifest.version, f.name);
    log(`uploading ${key} (${f.bytes.byteLength} bytes) to ${target.describe}`);
    await target.put(key, f.bytes, contentType(f.name));
    const stored = await target.size(key);
    if (stored !== f.bytes.byteLength) {
      throw new Error(`${key}: R2 holds ${stored ?? "nothing"}, expected ${f.bytes.byteLength} bytes; models/current.json was not changed`);
    }
  }
  const pointer: CurrentPointer = { version: manifest.version, manifest: r2Key(manifest.version, manifestName), published: new Date().toISOString() };
  const body = new TextEncoder().encode(JSON.stringify(pointer));
  await target.put(R2_POINTER, body, "application/json");
  if ((await target.size(R2_POINTER)) !== body.byteLength) throw new Error(`${R2_POINTER} could not be verified after upload`);
  log(`${R2_POINTER} -> ${manifest.version}`);
  return pointer;
}
