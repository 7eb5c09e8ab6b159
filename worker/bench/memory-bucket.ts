// An in-memory R2 holding one published bundle, for running the Worker's own loading code in
// Node (benches and tests): the objects under models/<version>/ and the models/current.json
// pointer to them, as `npm run publish` writes them.
import { createHash } from "node:crypto";
import { R2_POINTER, r2Key } from "../../training/src/contract/artifacts.ts";
import type { ModelBucket } from "../src/model-load.ts";

/** A bundle's files (name -> bytes, manifest.json among them) as R2 holds them once published as `version`. */
export function publishedObjects(version: string, files: ReadonlyMap<string, Uint8Array>): Map<string, Uint8Array> {
  const objects = new Map<string, Uint8Array>([...files].map(([name, bytes]) => [r2Key(version, name), bytes]));
  objects.set(R2_POINTER, new TextEncoder().encode(JSON.stringify({ version, manifest: r2Key(version, "manifest.json"), published: "" })));
  return objects;
}

/** An in-memory R2: with `r2Md5`, each object carries the MD5 R2 stores for single-part uploads (R2's work, not the Worker's). */
export function memoryBucket(objects: ReadonlyMap<string, Uint8Array>, r2Md5: boolean): ModelBucket {
  const md5 = new Map([...objects].map(([key, bytes]) => [key, new Uint8Array(createHash("md5").update(bytes).digest()).buffer as ArrayBuffer]));
  return {
    async get(key, options) {
      const whole = objects.get(key);
      if (!whole) return null;
      const bytes = options ? whole.subarray(options.range.offset, options.range.offset + options.range.length) : whole;
      return {
        checksums: r2Md5 ? { md5: md5.get(key) } : {},
        arrayBuffer: async () => new Uint8Array(bytes).buffer as ArrayBuffer, // a copy: a Buffer may share its pool
        json: async <T>() => JSON.parse(new TextDecoder().decode(bytes)) as T,
      };
    },
    async head(key) {
      const bytes = objects.get(key);
      return bytes ? { size: bytes.byteLength, checksums: r2Md5 ? { md5: md5.get(key) } : {} } : null;
    },
  };
}
