// --device gpu covers LightGCN and BPR-MF; every other model says so before any work, and a
// CPU-only model handed a GPU backend refuses it instead of running elsewhere.
import { describe, expect, it } from "vitest";
import type { GraphBackend } from "../src/engine/backend.ts";
import { lightgcn, mf } from "../src/models/lightgcn.ts";
import { ngcf } from "../src/models/ngcf.ts";
import { MODELS, modelFactory } from "../src/models/registry.ts";
import { checkDevice } from "../src/pipeline/run.ts";
import { randomTrain } from "./graph-helpers.ts";

describe("--device", () => {
  it("gpu accepts LightGCN and BPR-MF", () => {
    expect(() => checkDevice([lightgcn, mf], "gpu")).not.toThrow();
  });

  it("gpu refuses every other model by name, before any work, and says what to do", () => {
    const others = MODELS.filter((f) => f !== lightgcn && f !== mf);
    expect(others.map((f) => f.name).sort()).toEqual(["blend", "ease", "ials", "itemknn", "ngcf", "pop", "puresvd", "svd"]);
    for (const f of others) {
      expect(() => checkDevice([lightgcn, f], "gpu")).toThrow(new RegExp(`--device gpu: ${f.name} trains on the CPU only .*--device cpu`));
    }
    expect(() => checkDevice([modelFactory("ease"), modelFactory("ngcf")], "gpu")).toThrow(
      /ease, ngcf train on the CPU only \(the gpu backend covers mf, lightgcn\)/,
    );
  });

  it("cpu accepts every model", () => {
    expect(() => checkDevice(MODELS, "cpu")).not.toThrow();
  });

  it("NGCF handed a GPU backend refuses it (it has no GPU kernels) rather than training elsewhere", async () => {
    const gpuLike = { kind: "webgpu", description: "a GPU" } as GraphBackend;
    const model = ngcf.create({ ...ngcf.defaults, threads: 1 });
    await expect(model.fit(randomTrain(8, 6, 2, 1), { seed: 1, log: () => {}, backend: gpuLike })).rejects.toThrow(/ngcf trains on the CPU only/);
  });
});
