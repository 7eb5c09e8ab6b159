// A fresh isolate with nothing published, then a broken publication, then a good one.
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { R2_POINTER } from "../../training/src/contract/artifacts.ts";
import { createApp } from "../src/app.ts";
import { ModelStore } from "../src/model-store.ts";
import { bundles, publish } from "./seed.ts";

// Each test starts from an empty bucket and a fresh isolate's model store.
let app = createApp(new ModelStore());

describe("before a usable model is published", () => {
  beforeEach(async () => {
    const listed = await env.MODELS.list();
    await Promise.all(listed.objects.map((o) => env.MODELS.delete(o.key)));
    app = createApp(new ModelStore());
  });

  it("answers 503 with a message that says to run publish when the bucket is empty", async () => {
    for (const path of ["/health", "/users/1/recs", "/movies/1"]) {
      const res = await app.request(path, {}, env);
      expect(res.status).toBe(503);
      const body = await res.json<{ error: string; message: string }>();
      expect(body.error).toBe("no_model");
      expect(body.message).toMatch(/npm run publish/);
    }
  });

  it("answers 503, not 500, for an unreadable pointer or a version with missing files", async () => {
    await env.MODELS.put(R2_POINTER, "{not json");
    let res = await app.request("/users/1/recs", {}, env);
    expect(res.status).toBe(503);
    expect((await res.json<{ error: string }>()).error).toBe("model_unavailable");

    await publish(env.MODELS, bundles()[0], { skip: ["model.onnx"] });
    res = await app.request("/users/1/recs", {}, env);
    expect(res.status).toBe(503);
    expect((await res.json<{ message: string }>()).message).toMatch(/model\.onnx .* missing/);
  });

  it("serves as soon as a complete model is published, without a redeploy", async () => {
    await publish(env.MODELS, bundles()[0]);
    const res = await app.request("/health", {}, env);
    expect(res.status).toBe(200);
    expect((await res.json<{ model: string }>()).model).toBe("fixture-v1");
  });
});
