// An R2 bucket in memory for the publish and retrain tests: etags that change on every put,
// conditional puts, and the pointer readable as JSON.
import { type CurrentPointer, R2_POINTER } from "../src/contract/artifacts.ts";
import type { R2BucketLike } from "../src/publish/publish.ts";

export class MemoryBucket implements R2BucketLike {
  readonly objects = new Map<string, { bytes: Uint8Array; etag: string }>();
  /** Every key written, in order. */
  puts: string[] = [];
  private etags = 0;
  /** Runs before each put (to simulate another publisher acting meanwhile). */
  beforePut: ((key: string) => void) | null = null;

  async get(key: string) {
    const o = this.objects.get(key);
    return o ? { etag: o.etag, arrayBuffer: async () => new Uint8Array(o.bytes).buffer as ArrayBuffer } : null;
  }

  async put(key: string, value: Uint8Array, options: { onlyIf?: { etagMatches: string } }) {
    this.beforePut?.(key);
    if (options.onlyIf && this.objects.get(key)?.etag !== options.onlyIf.etagMatches) return null;
    this.puts.push(key);
    // a copy, never a view: a Node Buffer's slice() shares memory (and its pool)
    this.objects.set(key, { bytes: new Uint8Array(value), etag: `e${++this.etags}` });
    return {};
  }

  async head(key: string) {
    const o = this.objects.get(key);
    return o ? { size: o.bytes.byteLength } : null;
  }

  pointer(): CurrentPointer | null {
    const o = this.objects.get(R2_POINTER);
    return o ? (JSON.parse(new TextDecoder().decode(o.bytes)) as CurrentPointer) : null;
  }
}
