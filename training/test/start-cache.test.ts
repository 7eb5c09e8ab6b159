// When a second npm start may reuse a trained model: same data bytes, same training code, same
// options, and the bundle it was recorded for still in place and complete.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type CacheInputs, cacheKey, dataDigest, isReusable, recordTrained, sourceDigest } from "../src/start/cache.ts";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "edgerec-cache-"));
}

function exportBundle(artifacts: string, model: string, version: string, stopped = "converged"): void {
  mkdirSync(join(artifacts, model), { recursive: true });
  writeFileSync(join(artifacts, model, "manifest.json"), JSON.stringify({ version }));
  writeFileSync(join(artifacts, model, "metrics.json"), JSON.stringify({ model, stopped, valid: { "ndcg@10": 0.2 } }));
}

const inputs: CacheInputs = { data: "d", source: "s", options: { dataset: "ml-1m", protocol: "recbole", seed: 2020 } };

describe("the key of a trained model", () => {
  it("changes with the data bytes, not with the file's timestamps alone", () => {
    const dir = tempDir();
    const file = join(dir, "ratings.dat");
    writeFileSync(file, "1::1::5::0\n");
    const before = dataDigest([file]);
    writeFileSync(file, "1::1::5::0\n");
    expect(dataDigest([file])).toBe(before);
    writeFileSync(file, "1::1::4::0\n");
    expect(dataDigest([file])).not.toBe(before);
  });

  it("changes with the training source, and only with it", () => {
    const root = tempDir();
    for (const d of ["models", "cli", "publish", "start"]) mkdirSync(join(root, d));
    writeFileSync(join(root, "models", "ease.ts"), "a");
    writeFileSync(join(root, "cli", "train.ts"), "a");
    writeFileSync(join(root, "cli", "publish.ts"), "a");
    writeFileSync(join(root, "publish", "publish.ts"), "a");
    writeFileSync(join(root, "start", "session.ts"), "a");
    const before = sourceDigest(root);
    for (const f of ["cli/publish.ts", "publish/publish.ts", "start/session.ts"]) writeFileSync(join(root, f), "b");
    expect(sourceDigest(root)).toBe(before);
    writeFileSync(join(root, "cli", "train.ts"), "b");
    const afterCli = sourceDigest(root);
    expect(afterCli).not.toBe(before);
    writeFileSync(join(root, "models", "ease.ts"), "b");
    expect(sourceDigest(root)).not.toBe(afterCli);
  });

  it("hashes this checkout's training code", () => {
    expect(sourceDigest()).toMatch(/^[0-9a-f]{64}$/);
  });

  it("differs by model and by every option, whatever the options' order", () => {
    const key = cacheKey("ease", inputs);
    expect(cacheKey("ease", { ...inputs, options: { seed: 2020, protocol: "recbole", dataset: "ml-1m" } })).toBe(key);
    expect(cacheKey("lightgcn", inputs)).not.toBe(key);
    expect(cacheKey("ease", { ...inputs, options: { ...inputs.options, seed: 1 } })).not.toBe(key);
    expect(cacheKey("ease", { ...inputs, data: "other" })).not.toBe(key);
    expect(cacheKey("ease", { ...inputs, source: "other" })).not.toBe(key);
  });
});

describe("reusing a trained model", () => {
  it("reuses a recorded, complete export with the same key", () => {
    const artifacts = tempDir();
    exportBundle(artifacts, "ease", "ease-1");
    const key = cacheKey("ease", inputs);
    expect(isReusable(artifacts, "ease", key)).toBe(false);
    recordTrained(artifacts, "ease", key, inputs);
    expect(isReusable(artifacts, "ease", key)).toBe(true);
    expect(isReusable(artifacts, "ease", cacheKey("ease", { ...inputs, data: "changed" }))).toBe(false);
  });

  it("does not take a bundle exported since (npm run train) for the recorded one", () => {
    const artifacts = tempDir();
    exportBundle(artifacts, "ease", "ease-1");
    const key = cacheKey("ease", inputs);
    recordTrained(artifacts, "ease", key, inputs);
    exportBundle(artifacts, "ease", "ease-2");
    expect(isReusable(artifacts, "ease", key)).toBe(false);
  });

  it("does not reuse an interrupted training", () => {
    const artifacts = tempDir();
    exportBundle(artifacts, "lightgcn", "lightgcn-1", "interrupted");
    const key = cacheKey("lightgcn", inputs);
    recordTrained(artifacts, "lightgcn", key, inputs);
    expect(isReusable(artifacts, "lightgcn", key)).toBe(false);
  });

  it("refuses to record a model that has no exported bundle", () => {
    const artifacts = tempDir();
    mkdirSync(join(artifacts, "pop"));
    expect(() => recordTrained(artifacts, "pop", "k", inputs)).toThrow(/no exported bundle/);
  });
});
