// How the GPU backend cuts a matrix's rows into chunks: plain arithmetic on the host, so it runs
// in `npm test` on any machine (the kernels themselves are tested in webgpu-backend.gpu.test.ts).
import { describe, expect, it } from "vitest";
import { chunkLength, cutIntoChunks } from "../src/engine/webgpu/backend.ts";

describe("WebGPU propagation chunks", () => {
  it("cuts rows into chunks that cover every nonzero once", () => {
    const indptr = Int32Array.from([0, 0, 5, 5, 6, 136]);
    const { chunkStart, rowChunks } = cutIntoChunks(indptr, 5, 64);
    expect(Array.from(rowChunks)).toEqual([0, 0, 1, 1, 2, 5]);
    expect(Array.from(chunkStart)).toEqual([0, 5, 6, 70, 134, 136]);
    expect(chunkLength(10)).toBe(64);
    expect(chunkLength(81_000)).toBe(285);
  });
});
