// A published version's files never change (a version id names one export, and publish never
// rewrites one), so a location keeps them in its Cache API, keyed by their R2 key (which holds
// the version): a fresh isolate in a warm location loads a model, or reads a user's per-user R2
// rows, without an R2 round trip. Only models/current.json, the one object that changes, is
// always read from R2. A cached object keeps R2's MD5, so the load still checks every file
// against its manifest (docs/edge.md).
import { R2_POINTER } from "../../../training/src/contract/artifacts.ts";

const KEY_PATH = "/__edgerec/bundle/v1/";
const MD5_HEADER = "x-r2-md5";
/** A version's files are immutable; the cache may keep them as long as it likes (a year). */
const MAX_AGE = 365 * 86400;

interface RangeOption {
  range?: { offset: number; length: number };
}

/** What the model loader and the per-user store read of an object. */
interface StoredObject {
  arrayBuffer(): Promise<ArrayBuffer>;
  json<T>(): Promise<T>;
  checksums?: { md5?: ArrayBuffer };
}

function cacheOf(): Cache | null {
  return typeof caches === "undefined" ? null : (caches as unknown as { default: Cache }).default;
}

const hex = (bytes: ArrayBuffer): string => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
const unhex = (text: string): ArrayBuffer => Uint8Array.from(text.match(/../g) ?? [], (h) => Number.parseInt(h, 16)).buffer;

function stored(bytes: ArrayBuffer, md5: string | null): StoredObject {
  return {
    arrayBuffer: async () => bytes,
    json: async <T>() => JSON.parse(new TextDecoder().decode(bytes)) as T,
    ...(md5 ? { checksums: { md5: unhex(md5) } } : {}),
  };
}

/** Objects of a version (models/<version>/<file>); the pointer and anything else go to R2 every time. */
function immutable(key: string): boolean {
  return key !== R2_POINTER && /^models\/[^/]+\/[^/]+$/.test(key);
}

async function cachedGet(bucket: R2Bucket, origin: string, key: string, options: RangeOption | undefined): Promise<StoredObject | null> {
  const cache = cacheOf();
  const range = options?.range;
  const request = new Request(`${origin}${KEY_PATH}${encodeURIComponent(key)}${range ? `?offset=${range.offset}&length=${range.length}` : ""}`);
  const hit = cache ? await cache.match(request).catch(() => undefined) : undefined;
  if (hit) return stored(await hit.arrayBuffer(), hit.headers.get(MD5_HEADER));
  const object = await bucket.get(key, options as R2GetOptions);
  if (!object) return null;
  const bytes = await object.arrayBuffer();
  // a ranged read's MD5 is the whole object's: the per-user store does not check it, nor is it kept
  const md5 = !range && object.checksums?.md5 ? hex(object.checksums.md5) : null;
  const headers: Record<string, string> = { "cache-control": `max-age=${MAX_AGE}`, "content-type": "application/octet-stream" };
  if (md5) headers[MD5_HEADER] = md5;
  // not awaited: the load does not wait for the cache (a lost put costs the next cold isolate an R2 read)
  cache?.put(request, new Response(bytes.slice(0), { headers })).catch(() => {});
  return stored(bytes, md5);
}

const wrapped = new WeakMap<R2Bucket, Map<string, R2Bucket>>();

/**
 * The bucket with a version's objects read through the location's cache; the same object for
 * every request of the isolate and origin (the model store keys nothing on it, but a stable
 * binding costs nothing).
 */
export function bundleCached(bucket: R2Bucket, origin: string): R2Bucket {
  let byOrigin = wrapped.get(bucket);
  if (!byOrigin) {
    byOrigin = new Map();
    wrapped.set(bucket, byOrigin);
  }
  let cached = byOrigin.get(origin);
  if (!cached) {
    cached = new Proxy(bucket, {
      get(target, prop) {
        if (prop === "get")
          return (key: string, options?: RangeOption) => (immutable(key) ? cachedGet(target, origin, key, options) : target.get(key, options as R2GetOptions));
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    byOrigin.set(origin, cached);
  }
  return cached;
}
