// A model load that outlives its deadline: the waiting requests get 503 at the deadline, and the
// load, which goes on in the background, is released when it finishes: nothing else would ever
// release its sessions (ORT's wasm memory, outside the JS heap).
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Env } from "../src/env.ts";
import { ModelStore } from "../src/model-store.ts";
import { onnxRuntime } from "../src/ort.ts";
import { bundles, publish } from "./seed.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("a model load past its deadline", () => {
  it("answers 503 at the deadline, then releases every session the late load built", async () => {
    const [v1] = bundles();
    await publish(env.MODELS, v1);
    const ort = await onnxRuntime();
    const create = ort.InferenceSession.create;
    const counts = { created: 0, released: 0 };
    ort.InferenceSession.create = (async (...args: Parameters<typeof create>) => {
      const session = await create(...args);
      counts.created++;
      const release = session.release.bind(session);
      session.release = async () => {
        counts.released++;
        await release();
      };
      return session;
    }) as typeof create;
    try {
      // model.onnx arrives half a second after the one-second deadline
      const slow = {
        get: (key: string) => (key.endsWith("model.onnx") ? sleep(1500).then(() => env.MODELS.get(key)) : env.MODELS.get(key)),
      } as unknown as R2Bucket;
      const store = new ModelStore();
      const err = await store.acquire({ ...env, MODELS: slow, MODEL_LOAD_TIMEOUT_SECONDS: "1" } as Env).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 503, code: "model_unavailable" });
      for (let waited = 0; waited < 10_000 && (counts.created === 0 || counts.released < counts.created); waited += 50) await sleep(50);
      expect(counts.created).toBeGreaterThan(0);
      expect(counts.released).toBe(counts.created);
    } finally {
      ort.InferenceSession.create = create;
    }
  });
});
