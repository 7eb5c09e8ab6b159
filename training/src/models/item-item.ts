// Scoring shared by the item-item models (ItemKNN, EASE): score(u, j) = sum over the user's
// train items i of W[i][j], i.e. the user's sparse train row times a dense item x item matrix,
// computed by the SpMM kernel.
import { type Block, type CsrBlock, engine } from "../engine/kernels.ts";
import type { Csr } from "../protocol/csr.ts";

export class ItemItemScorer {
  private out: Block<"f32"> | null = null;

  private constructor(
    /** The binary train matrix in kernel memory (also what the Gram matrix is built from). */
    readonly x: CsrBlock,
    readonly weights: Block<"f32">,
    readonly items: number,
  ) {}

  /** Copies the binary train matrix into kernel memory and allocates W (zeroed). */
  static forTrain(train: Csr): ItemItemScorer {
    const e = engine();
    const x = e.csr({ rows: train.rows, cols: train.cols, indptr: train.indptr, indices: train.indices });
    return new ItemItemScorer(x, e.alloc("f32", train.cols * train.cols), train.cols);
  }

  score(from: number, to: number, out: Float32Array): void {
    const need = (to - from) * this.items;
    if (!this.out || this.out.length < need) this.out = engine().alloc("f32", need);
    engine().spmm(this.x, from, to, this.weights, this.items, this.out);
    out.set(this.out.view().subarray(0, need));
  }
}
