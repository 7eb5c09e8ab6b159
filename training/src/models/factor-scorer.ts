// Scores users against items by the dot product of user and item factor rows (iALS, PureSVD,
// SVD), with the dot-product kernel on all threads.
import type { Block, Engine } from "../engine/wasm/kernels.ts";
import { GraphOps } from "../engine/wasm/graph-ops.ts";

export class FactorScorer {
  private readonly users: Block<"f32">;
  private readonly items: Block<"f32">;
  private out: Block<"f32"> | null = null;

  constructor(
    private readonly ops: GraphOps,
    users: Float32Array,
    items: Float32Array,
    readonly dim: number,
  ) {
    this.users = ops.engine.from("f32", users);
    this.items = ops.engine.from("f32", items);
  }

  get itemCount(): number {
    return this.items.length / this.dim;
  }

  score(from: number, to: number, out: Float32Array): void {
    const need = (to - from) * this.itemCount;
    if (!this.out || this.out.length < need) this.out = this.ops.engine.alloc("f32", need);
    this.ops.dotScores(this.users, this.items, this.itemCount, this.dim, from, to, this.out);
    out.set(this.out.view().subarray(0, need));
  }
}

export function scoringOps(engine: Engine, threads: number): GraphOps {
  return new GraphOps(engine, threads);
}
