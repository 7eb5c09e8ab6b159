// The GPU backend against the CPU backend on random inputs, the LightGCN gradient check on the
// GPU, and a LightGCN run on ML-100K on both. Runs on whatever adapter Dawn finds: in CI,
// Mesa's software Vulkan driver (lavapipe), which .ci/run installs. A *.gpu.test.ts file: not
// part of `npm test` (which must pass without a GPU driver) but of `npm run test:gpu`, which
// first checks for an adapter and says what to install when there is none. Run directly
// without an adapter, these tests fail with what to install; they are never skipped.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GraphBackend, SparseRows, Tensor } from "../src/engine/backend.ts";
import { WasmBackend } from "../src/engine/wasm/backend.ts";
import { WebGpuBackend } from "../src/engine/webgpu/backend.ts";
import { DATASETS } from "../src/data/datasets.ts";
import { loadDataset } from "../src/data/parse.ts";
import { lightgcn } from "../src/models/lightgcn.ts";
import { trainModel } from "../src/pipeline/train-model.ts";
import { PROTOCOLS, buildSplit } from "../src/protocol/protocols.ts";
import { Rng } from "../src/util/rng.ts";
import { lightGcnGradientCheck } from "./lightgcn-gradient.ts";
import { realDatasetDir } from "./real-data.ts";

let gpu: WebGpuBackend | null = null;
let noGpu: unknown = null;
const cpu = WasmBackend.create(2);

beforeAll(async () => {
  try {
    gpu = await WebGpuBackend.create();
  } catch (e) {
    noGpu = e;
  }
});
afterAll(async () => {
  await gpu?.close();
});

/** The GPU backend; without an adapter every test fails with what to install (none is skipped). */
function gpuBackend(): WebGpuBackend {
  if (!gpu) throw noGpu ?? new Error("the GPU backend was not created");
  return gpu;
}

/** Runs `fn` on both backends inside a scope each; returns both results. */
async function onBoth<T>(fn: (b: GraphBackend) => Promise<T>): Promise<[T, T]> {
  const run = async (b: GraphBackend): Promise<T> => {
    const close = b.openScope();
    try {
      return await fn(b);
    } finally {
      close();
    }
  };
  return [await run(cpu), await run(gpuBackend())];
}

function randomFloats(n: number, seed: number, scale = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

/** A random square matrix with about `density` nonzeros per entry and some empty rows. */
function randomSquare(rows: number, density: number, seed: number): SparseRows & { values: Float32Array } {
  const rng = new Rng(seed);
  const indptr = new Int32Array(rows + 1);
  const indices: number[] = [];
  const values: number[] = [];
  for (let r = 0; r < rows; r++) {
    if (rows > 1 && r % 5 === 2) {
      indptr[r + 1] = indices.length; // an empty row
      continue;
    }
    for (let c = 0; c < rows; c++) {
      if (rng.next() < density) {
        indices.push(c);
        values.push(rng.normal());
      }
    }
    indptr[r + 1] = indices.length;
  }
  return { rows, cols: rows, indptr, indices: Int32Array.from(indices), values: Float32Array.from(values) };
}

function expectClose(gpuValues: Float32Array, cpuValues: Float32Array, tolerance = 1e-4): void {
  expect(gpuValues.length).toBe(cpuValues.length);
  let worst = 0;
  for (let i = 0; i < cpuValues.length; i++) worst = Math.max(worst, Math.abs(gpuValues[i] - cpuValues[i]) / Math.max(1, Math.abs(cpuValues[i])));
  expect(worst).toBeLessThan(tolerance);
}

describe("WebGPU kernels match the CPU backend", () => {
  // 1 row; several rows; more (row, column) pairs than one workgroup's 256 invocations
  for (const rows of [1, 13, 300]) {
    for (const d of [1, 3, 5, 64, 67]) {
      it(`propagation: ${rows} row(s), width ${d} (dst and acc)`, async () => {
        const a = randomSquare(rows, 0.15, rows * 100 + d);
        const src = randomFloats(rows * d, 1);
        const accStart = randomFloats(rows * d, 2);
        const [c, g] = await onBoth(async (b) => {
          const plan = b.propagation(a, d, [Math.ceil(rows / 2), Math.floor(rows / 2)]);
          const dst = b.zeros("f32", rows * d);
          const acc = b.upload(accStart);
          b.propagate(plan, b.upload(src), dst, acc, d);
          return [await b.download(dst), await b.download(acc)];
        });
        expectClose(g[0], c[0]);
        expectClose(g[1], c[1]);
      });
    }
  }

  it("propagation with rows far longer than a chunk (a popular movie's row), width 64 and 6", async () => {
    // a bipartite-like matrix where row 0 holds every column and a few rows hold thousands
    const rows = 3000;
    const rng = new Rng(77);
    const indptr = new Int32Array(rows + 1);
    const indices: number[] = [];
    for (let r = 0; r < rows; r++) {
      const degree = r === 0 ? rows : r % 500 === 1 ? 1500 : r % 7 === 3 ? 0 : 1 + rng.int(5);
      const cols =
        degree === rows ? Array.from({ length: rows }, (_, c) => c) : [...new Set(Array.from({ length: degree }, () => rng.int(rows)))].sort((x, y) => x - y);
      indices.push(...cols);
      indptr[r + 1] = indices.length;
    }
    const a = { rows, cols: rows, indptr, indices: Int32Array.from(indices), values: randomFloats(indices.length, 78, 0.1) };
    for (const d of [64, 6]) {
      const src = randomFloats(rows * d, 79);
      const [c, g] = await onBoth(async (b) => {
        const dst = b.zeros("f32", rows * d);
        b.propagate(b.propagation(a, d, [rows >> 1, rows - (rows >> 1)]), b.upload(src), dst, null, d);
        return b.download(dst);
      });
      expectClose(g, c);
    }
  });

  for (const [nodes, d, count] of [
    [9, 3, 1],
    [40, 5, 37],
    [500, 67, 2000],
  ] as const) {
    it(`BPR and L2 gradients with repeated rows: ${nodes} nodes, width ${d}, ${count} triples`, async () => {
      const rng = new Rng(nodes + d);
      // few distinct users: rows repeat within the batch, and many nodes are never named
      const users = Int32Array.from({ length: count }, () => rng.int(Math.max(1, nodes >> 3)));
      const pos = Int32Array.from({ length: count }, () => (nodes >> 1) + rng.int(nodes >> 1));
      const neg = Int32Array.from({ length: count }, () => (nodes >> 1) + rng.int(nodes >> 1));
      const emb = randomFloats(nodes * d, 3, 0.5);
      const gradStart = randomFloats(nodes * d, 4, 0.1);
      const [c, g] = await onBoth(async (b) => {
        const t = b.triples(count + 5);
        b.setTriples(t, users, pos, neg, count);
        await b.takeLosses();
        const e = b.upload(emb);
        const grad = b.upload(gradStart);
        b.bprGrad(t, e, 0.7, grad, d);
        b.l2Grad(t, e, grad, d, 0.03);
        const sums = await b.takeLosses();
        return { grad: await b.download(grad), sums };
      });
      expectClose(g.grad, c.grad);
      expect(g.sums.bpr).toBeCloseTo(c.sums.bpr, Math.max(1, 4 - Math.log10(count)));
      expect(g.sums.squaredNorms / c.sums.squaredNorms).toBeCloseTo(1, 5);
    });
  }

  it("Adam, scale, copy and fill", async () => {
    const n = 1234;
    const [c, g] = await onBoth(async (b) => {
      const param = b.upload(randomFloats(n, 5));
      const grad = b.upload(randomFloats(n, 6));
      const m = b.zeros("f32", n);
      const v = b.zeros("f32", n);
      for (let step = 1; step <= 3; step++) b.adam(param, grad, m, v, step, 0.5, { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
      const copy = b.zeros("f32", n);
      b.copy(param, copy);
      b.scale(copy, -2.5);
      const cleared = b.upload(randomFloats(n, 7));
      b.fill(cleared, 0);
      return Promise.all([param, m, v, copy, cleared].map((t: Tensor) => b.download(t)));
    });
    for (let k = 0; k < c.length; k++) expectClose(g[k], c[k], 1e-5);
    expect(g[4].every((x) => x === 0)).toBe(true);
  });

  for (const [users, items, k, ties] of [
    [1, 7, 10, false],
    [5, 40, 7, true],
    [300, 1500, 20, false],
    [70, 600, 50, true],
  ] as const) {
    it(`top-K with exclusions: ${users} user(s), ${items} items, k ${k}${ties ? ", with ties" : ""}`, async () => {
      const d = 6;
      const rng = new Rng(users * 7 + items);
      // integer embeddings make many exact ties (broken by the smaller item index on both)
      const emb = Float32Array.from({ length: (users + items) * d }, () => (ties ? rng.int(3) - 1 : rng.normal()));
      const ids = Int32Array.from({ length: users }, (_, i) => (i * 3) % users);
      const indptr = new Int32Array(users + 1);
      const excluded: number[] = [];
      for (let r = 0; r < users; r++) {
        // the first user excludes all items but 3, so fewer than k are selectable; others some
        if (r === 0) for (let i = 3; i < items; i++) excluded.push(i);
        else if (r % 4 !== 1) for (let i = 0; i < items; i++) if (rng.next() < 0.2) excluded.push(i);
        indptr[r + 1] = excluded.length;
      }
      const exclude = { rows: users, cols: items, indptr, indices: Int32Array.from(excluded) };
      const [c, g] = await onBoth(async (b) => b.topK(b.upload(emb), d, users, items, ids, exclude, k));
      expect(Array.from(g)).toEqual(Array.from(c));
      expect(Array.from(g.subarray(Math.min(3, k), k)).every((x) => x === -1)).toBe(true);
    });
  }
});

describe("LightGCN on the GPU backend", () => {
  for (const layers of [0, 1, 3]) {
    it(`analytic gradient matches central differences: ${layers} layer(s)`, async () => {
      const check = await lightGcnGradientCheck(gpuBackend(), layers);
      expect(check.loss).toBeCloseTo(check.referenceLoss, 5);
      expect(check.relativeError).toBeLessThan(1e-4);
    });
  }

  const ml100k = realDatasetDir("ml-100k");
  it.skipIf(!ml100k)("trains on ML-100K to within 0.005 of the CPU run's test Recall@10 (same seed)", async () => {
    const split = buildSplit(await loadDataset(DATASETS["ml-100k"], ml100k!), PROTOCOLS.recbole);
    // a fixed number of epochs, so both runs take the same steps with the same sampled triples
    const overrides = { epochs: 24, eval_every: 6, patience: 100, batch: 8192, lr: 1e-2 };
    const onCpu = await trainModel(lightgcn, split, { overrides: { ...overrides, threads: 2 } });
    const onGpu = await trainModel(lightgcn, split, { overrides, backend: gpuBackend() });
    const recalls = `ML-100K LightGCN test Recall@10: CPU ${onCpu.test["recall@10"].toFixed(4)}, GPU ${onGpu.test["recall@10"].toFixed(4)}`;
    expect(onGpu.trained_on).toContain("WebGPU");
    expect(onCpu.test["recall@10"], recalls).toBeGreaterThan(0.1);
    expect(Math.abs(onGpu.test["recall@10"] - onCpu.test["recall@10"]), recalls).toBeLessThan(0.005);
  });
});
