// Reads an exported bundle from artifacts/<model>/ for publishing (Node side).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BUNDLE_FILES, type Manifest } from "../contract/artifacts.ts";
import type { Bundle } from "./publish.ts";

export function readManifest(dir: string): Manifest {
  const path = join(dir, BUNDLE_FILES.manifest);
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Manifest;
  } catch {
    throw new Error(`${path} is missing or unreadable: train and export a model first (npm run train -- --model lightgcn)`);
  }
}

/** The manifest and the bytes of every file it lists (checked later, by publishBundle). */
export function readBundle(dir: string): Bundle {
  const manifest = readManifest(dir);
  const files = new Map<string, Uint8Array>();
  for (const key of [...Object.keys(manifest.files), "manifest"] as (keyof typeof BUNDLE_FILES)[]) {
    const name = BUNDLE_FILES[key];
    try {
      files.set(name, readFileSync(join(dir, name)));
    } catch {
      throw new Error(`${join(dir, name)} is missing: run \`npm run export\` again; nothing was uploaded`);
    }
  }
  return { manifest, files };
}
