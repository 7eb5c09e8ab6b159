// Shared by the graph-model tests: small random train matrices and kernel pools of 1 and 2
// threads (closed after the file's tests).
import { afterAll } from "vitest";
import { engine } from "../src/engine/wasm/kernels.ts";
import { GraphOps } from "../src/engine/wasm/graph-ops.ts";
import { WasmBackend } from "../src/engine/wasm/backend.ts";
import { type Csr, csrFromTriples } from "../src/protocol/csr.ts";
import { Rng } from "../src/util/rng.ts";

/** Every user gets `perUser` distinct items, item u % items among them (no empty user). */
export function randomTrain(users: number, items: number, perUser: number, seed: number): Csr {
  const rng = new Rng(seed);
  const r: number[] = [],
    c: number[] = [];
  for (let u = 0; u < users; u++) {
    const chosen = new Set<number>([u % items]);
    while (chosen.size < perUser) chosen.add(rng.int(items));
    for (const i of chosen) {
      r.push(u);
      c.push(i);
    }
  }
  return csrFromTriples(users, items, r, c);
}

export function graphPools(): GraphOps[] {
  const pools = [1, 2].map((t) => new GraphOps(engine(), t));
  afterAll(async () => {
    for (const o of pools) await o.pool.close();
  });
  return pools;
}

/** The CPU backend with 1 and 2 threads (their pools are the process's shared ones). */
export function cpuBackends(): WasmBackend[] {
  return [1, 2].map((t) => WasmBackend.create(t));
}
