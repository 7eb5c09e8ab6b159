// Scores users against items by the dot product of user and item factor rows (iALS, PureSVD,
// SVD), with the CPU backend's dot-product kernel on all its threads.
import type { DenseBackend, Tensor } from "../engine/backend.ts";

export class FactorScorer {
  private readonly users: Tensor<"f32">;
  private readonly items: Tensor<"f32">;
  private out: Tensor<"f32"> | null = null;

  constructor(
    private readonly cpu: DenseBackend,
    users: Float32Array,
    items: Float32Array,
    readonly dim: number,
  ) {
    this.users = cpu.upload(users);
    this.items = cpu.upload(items);
  }

  get itemCount(): number {
    return this.items.length / this.dim;
  }

  score(from: number, to: number, out: Float32Array): void {
    const need = (to - from) * this.itemCount;
    if (!this.out || this.out.length < need) this.out = this.cpu.zeros("f32", need);
    this.cpu.dotScores(this.users, this.items, this.itemCount, this.dim, from, to, this.out);
    out.set(this.cpu.read(this.out, 0, need));
  }
}
