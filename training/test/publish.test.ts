import { describe, expect, it } from "vitest";
import { BUNDLE_FILES, R2_POINTER } from "../src/contract/artifacts.ts";
import { versionFor } from "../src/export/bundle.ts";
import { type Bundle, bindingTarget, publishBundle } from "../src/publish/publish.ts";
import { retryingBusy } from "../src/publish/targets.ts";
import { tinyBundle } from "./tiny-bundle.ts";
import { MemoryBucket } from "./memory-bucket.ts";

/** A small servable bundle (publish checks the content, not only the checksums). */
function bundle(version: string, created: string): Bundle {
  return tinyBundle(version, created);
}

describe("publishBundle", () => {
  const older = bundle("lightgcn-a", "2026-11-01T00:00:00.000Z");
  const newer = bundle("lightgcn-b", "2026-11-02T00:00:00.000Z");

  it("uploads every file, then the pointer last", async () => {
    const bucket = new MemoryBucket();
    const { pointer, changed } = await publishBundle(older, bindingTarget(bucket, "memory"));
    expect(changed).toBe(true);
    expect(bucket.puts.at(-1)).toBe(R2_POINTER);
    expect(bucket.puts).toHaveLength(7);
    expect(bucket.pointer()).toEqual(pointer);
    expect(pointer).toMatchObject({ version: "lightgcn-a", created: older.manifest.created });
    // the manifest travels in the pointer too: a Worker reads the files as soon as it has the pointer
    expect(pointer.manifest_copy).toEqual(older.manifest);
  });

  it("treats publishing the served version again as a no-op", async () => {
    const bucket = new MemoryBucket();
    await publishBundle(older, bindingTarget(bucket, "memory"));
    bucket.puts = [];
    const again = await publishBundle(older, bindingTarget(bucket, "memory"));
    expect(again.changed).toBe(false);
    expect(bucket.puts).toEqual([]);
  });

  it("refuses to roll the pointer back to an older bundle unless forced", async () => {
    const bucket = new MemoryBucket();
    await publishBundle(newer, bindingTarget(bucket, "memory"));
    await expect(publishBundle(older, bindingTarget(bucket, "memory"))).rejects.toThrow(/newer .* refusing to roll back.*--force/);
    expect(bucket.pointer()?.version).toBe("lightgcn-b");
    await publishBundle(older, bindingTarget(bucket, "memory"), { force: true });
    expect(bucket.pointer()?.version).toBe("lightgcn-a");
  });

  it("fails loudly when another publish moves the pointer while this one uploads", async () => {
    const bucket = new MemoryBucket();
    await publishBundle(older, bindingTarget(bucket, "memory"));
    // another publisher switches the pointer while this one is uploading its files
    const rival = new TextEncoder().encode(
      JSON.stringify({ version: "lightgcn-c", manifest: "models/lightgcn-c/manifest.json", published: "", created: "2026-11-03T00:00:00.000Z" }),
    );
    bucket.beforePut = (key) => {
      if (!key.includes("lightgcn-b/")) return;
      bucket.beforePut = null;
      bucket.objects.set(R2_POINTER, { bytes: rival, etag: "rival" });
    };
    await expect(publishBundle(newer, bindingTarget(bucket, "memory"))).rejects.toThrow(/changed while lightgcn-b was uploading/);
    expect(bucket.pointer()?.version).toBe("lightgcn-c");
  });

  it("leaves the served version alone when a publication fails partway, and the next one succeeds over what it left", async () => {
    const bucket = new MemoryBucket();
    await publishBundle(older, bindingTarget(bucket, "memory"));
    let puts = 0;
    bucket.beforePut = () => {
      if (++puts === 3) throw new Error("disk full");
    };
    await expect(publishBundle(newer, bindingTarget(bucket, "memory"))).rejects.toThrow(/disk full/);
    expect(bucket.pointer()?.version).toBe("lightgcn-a");
    bucket.beforePut = null;
    const { pointer, changed } = await publishBundle(newer, bindingTarget(bucket, "memory"));
    expect(changed).toBe(true);
    expect(pointer.version).toBe("lightgcn-b");
    for (const [name, bytes] of newer.files) expect(bucket.objects.get(`models/lightgcn-b/${name}`)?.bytes).toEqual(new Uint8Array(bytes));
  });

  it("tries a write again while the local state is busy (wrangler dev writing), the pointer's compare-and-swap included", async () => {
    const bucket = new MemoryBucket();
    await publishBundle(older, bindingTarget(bucket, "memory"));
    const busyOnce = new Set<string>();
    bucket.beforePut = (key) => {
      if (busyOnce.has(key)) return;
      busyOnce.add(key);
      throw new Error("database is locked: SQLITE_BUSY (extended: SQLITE_BUSY_SNAPSHOT): Failed to get session commit token");
    };
    const retried: number[] = [];
    const { pointer } = await publishBundle(
      newer,
      retryingBusy(bindingTarget(bucket, "memory"), (n) => retried.push(n)),
    );
    expect(pointer.version).toBe("lightgcn-b");
    expect(bucket.pointer()?.version).toBe("lightgcn-b");
    expect(busyOnce.has(R2_POINTER)).toBe(true);
    expect(retried.length).toBe(busyOnce.size);
  });

  it("refuses a bundle whose file does not match its manifest before uploading anything", async () => {
    const bucket = new MemoryBucket();
    const bad = bundle("lightgcn-d", "2026-11-04T00:00:00.000Z");
    bad.files.set(BUNDLE_FILES.rated, new TextEncoder().encode("tampered"));
    await expect(publishBundle(bad, bindingTarget(bucket, "memory"))).rejects.toThrow(/rated\.bin does not match manifest\.json/);
    expect(bucket.puts).toEqual([]);
  });

  it("gives two exports in the same millisecond different version ids", () => {
    const at = new Date("2026-11-27T13:00:00.123Z");
    const a = versionFor("lightgcn", at);
    const b = versionFor("lightgcn", at);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^lightgcn-20261127T130000123Z-[0-9a-f]{6}$/);
  });
});
