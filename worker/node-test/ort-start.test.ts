// ORT's start apart from the model's graphs (worker/src/ort-start.ts), with the real
// onnxruntime-web in Node: the one-node graph is one ORT builds and runs, the init alone leaves
// ORT started with no session and no error, and neither part ever rejects.
import * as ort from "onnxruntime-web";
import { describe, expect, it } from "vitest";
import { firstSession, initRuntime, startGraph } from "../src/ort-start.ts";
import { ortWasmBytes, watchOrtMemory } from "../bench/ort-memory.ts";

describe("ORT's start", () => {
  it("starts the runtime without a session, then makes and releases a first session of a graph ORT runs", async () => {
    ort.env.wasm.numThreads = 1;
    watchOrtMemory();
    const made: { release(): Promise<void> }[] = [];
    const released: unknown[] = [];
    const counting = {
      Tensor: ort.Tensor,
      InferenceSession: {
        create: async (...args: Parameters<typeof ort.InferenceSession.create>) => {
          const session = await ort.InferenceSession.create(...args);
          made.push(session);
          const release = session.release.bind(session);
          session.release = async () => {
            released.push(session);
            await release();
          };
          return session;
        },
      },
    } as unknown as typeof ort;
    expect(ortWasmBytes()).toBe(0);
    await initRuntime(counting);
    // ORT's wasm is instantiated and its runtime started, and no session was made
    expect(ortWasmBytes()).toBeGreaterThan(0);
    expect(made).toHaveLength(0);
    await firstSession(counting);
    expect(made).toHaveLength(1);
    expect(released).toEqual(made);
    const session = await ort.InferenceSession.create(startGraph());
    expect(session.inputNames).toEqual(["x"]);
    const out = await session.run({ x: new ort.Tensor("float32", Float32Array.from([3.5]), [1]) });
    expect(Array.from(out.y.data as Float32Array)).toEqual([3.5]);
    await session.release();
  });

  it("never rejects, even when ORT cannot build a session", async () => {
    const failing = { Tensor: ort.Tensor, InferenceSession: { create: () => Promise.reject(new Error("no runtime")) } } as unknown as typeof ort;
    await expect(initRuntime(failing)).resolves.toBeUndefined();
    await expect(firstSession(failing)).resolves.toBeUndefined();
  });
});
