// A bundle whose per-user data stays in R2 (Manifest.per_user "r2"): the load reads no rated
// list, history or id map of users, each request reads its user's record and rows by range, and
// the answers are those of the same model with everything in memory.
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { BUNDLE_FILES, type CurrentPointer, type IdMaps, type Manifest, R2_POINTER, r2Key } from "../../training/src/contract/artifacts.ts";
import { createApp } from "../src/app.ts";
import type { Env } from "../src/env.ts";
import { ModelStore } from "../src/model-store.ts";
import { type BucketRead, bundles, bytesOf, expectSameAnswers, fixtureData, publish, recordingBucket } from "./seed.ts";

describe("per-user data left in R2", () => {
  const [inMemory] = bundles();
  const r2 = bundles()[4];
  const data = fixtureData(inMemory);
  const manifest = JSON.parse(new TextDecoder().decode(bytesOf(r2, BUNDLE_FILES.manifest))) as Manifest;
  let reads: BucketRead[] = [];
  let app = createApp(new ModelStore());
  const call = (path: string, bucket: R2Bucket = env.MODELS): Promise<Response> =>
    Promise.resolve(app.request(path, {}, { ...env, MODELS: bucket, API_TOKEN: undefined } as Partial<Env>));

  const freshStore = (): void => {
    app = createApp(new ModelStore());
  };

  beforeEach(() => {
    reads = [];
    freshStore();
  });

  it("is exported with users.bin and popularity.bin, and ids.json without the users", () => {
    expect(manifest.per_user).toBe("r2");
    expect(manifest.max_user_id).toBe(Math.max(...data.users));
    expect(Object.keys(manifest.files)).toEqual(expect.arrayContaining(["users", "popularity", "rated"]));
    const ids = JSON.parse(new TextDecoder().decode(bytesOf(r2, BUNDLE_FILES.ids))) as IdMaps;
    expect(ids.users).toEqual([]);
    expect(ids.items).toEqual(data.items);
  });

  it("answers every known user as the same model with its per-user data in memory does", async () => {
    await expectSameAnswers(call, freshStore, inMemory, r2);
  });

  it("loads without reading any per-user file, and reads one user's record and rows by range per request", async () => {
    await publish(env.MODELS, r2);
    const bucket = recordingBucket(reads);
    expect((await call("/health", bucket)).status).toBe(200);
    const perUserFiles = [BUNDLE_FILES.users, BUNDLE_FILES.rated].map((f) => r2Key(r2.version, f));
    // (the load checks per-user files by head, size and MD5, without reading them)
    expect(reads.filter((r) => r.method === "get" && perUserFiles.includes(r.key))).toEqual([]);
    reads.length = 0;
    expect((await call(`/users/${data.users[5]}/recs`, bucket)).status).toBe(200);
    // (the pointer may be looked at again too: it is not per-user data)
    expect(reads.filter((r) => r.key !== "models/current.json")).toEqual([
      { method: "get", key: r2Key(r2.version, BUNDLE_FILES.users), ranged: true },
      { method: "get", key: r2Key(r2.version, BUNDLE_FILES.rated), ranged: true },
    ]);
  });

  it("answers the cold-start list for ids that are no user's, inside and past the records", async () => {
    await publish(env.MODELS, r2);
    const absent = Array.from({ length: manifest.max_user_id! }, (_, i) => i + 1).find((id) => !data.users.includes(id));
    // (every id from 1 to the largest may be a user: then only ids past the records are tried)
    for (const id of [...(absent ? [absent] : []), manifest.max_user_id! + 1, 999_999_999]) {
      const res = await call(`/users/${id}/recs`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ source: "popular", ignored: 0 });
    }
  });

  it("refuses a version whose users.bin does not match its manifest, and keeps serving nothing broken", async () => {
    await publish(env.MODELS, r2);
    // no previous version to fall back to (never-dark.test.ts covers that): the refusal itself is seen
    const pointer = await (await env.MODELS.get(R2_POINTER))!.json<CurrentPointer>();
    await env.MODELS.put(R2_POINTER, JSON.stringify({ ...pointer, previous: [] }));
    const key = r2Key(r2.version, BUNDLE_FILES.users);
    const good = await env.MODELS.get(key);
    const bytes = new Uint8Array(await good!.arrayBuffer());
    await env.MODELS.put(key, bytes.subarray(0, bytes.length - 20));
    const res = await call(`/users/${data.users[0]}/recs`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: "model_unavailable", message: expect.stringMatching(/users\.bin .* does not match its manifest/) });
    await env.MODELS.put(key, bytes);
  });
});
