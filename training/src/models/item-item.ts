// Scoring shared by the item-item models (ItemKNN, EASE): score(u, j) = sum over the user's
// train items i of W[i][j], i.e. the user's sparse train row times a dense item x item matrix,
// computed by the SpMM kernel.
import type { DenseBackend, SparseTensor, Tensor } from "../engine/backend.ts";
import type { Csr } from "../protocol/csr.ts";

/**
 * Kernel memory the dense item x item matrices may take while fitting: the f64 Gram matrix and
 * the f32 weights, 12 bytes per item pair. 2 GiB holds 13,377 items; ML-1M's 3,123 take 117 MB,
 * ML-32M's 87,585 would take 92 GB.
 */
export const ITEM_MATRIX_BUDGET_BYTES = 2 * 2 ** 30;
const BYTES_PER_ITEM_PAIR = 12;

/** The most items an item-item model keeps: "memory" (what the budget holds) or a number. */
export function itemCap(param: number | string | boolean | undefined): number {
  if (param === undefined || param === "memory") return Math.floor(Math.sqrt(ITEM_MATRIX_BUDGET_BYTES / BYTES_PER_ITEM_PAIR));
  const n = Number(param);
  if (!Number.isInteger(n) || n < 1) throw new Error(`max_items must be "memory" or a positive integer, got ${param}`);
  return n;
}

export class ItemItemScorer {
  private out: Tensor<"f32"> | null = null;

  private constructor(
    private readonly cpu: DenseBackend,
    /** The binary train matrix on the backend (also what the Gram matrix is built from), over the kept items. */
    readonly x: SparseTensor,
    readonly weights: Tensor<"f32">,
    /** Items the weights cover. */
    readonly items: number,
    /** Every item of the catalogue. */
    readonly allItems: number,
    /** Kept item k is catalogue item kept[k]; null when every item is kept. */
    readonly kept: Int32Array | null,
  ) {}

  /**
   * Copies the binary train matrix into kernel memory and allocates W (zeroed). A catalogue over
   * `maxItems` keeps its `maxItems` most popular items (by train interactions): the dense
   * matrices are quadratic in items, and the rest score -inf.
   */
  static forTrain(cpu: DenseBackend, train: Csr, maxItems = Number.POSITIVE_INFINITY): ItemItemScorer {
    const kept = train.cols > maxItems ? mostPopular(train, maxItems) : null;
    const m = kept ? restrictColumns(train, kept) : train;
    const x = cpu.sparse({ rows: m.rows, cols: m.cols, indptr: m.indptr, indices: m.indices });
    return new ItemItemScorer(cpu, x, cpu.zeros("f32", m.cols * m.cols), m.cols, train.cols, kept);
  }

  /** A host copy of W (items x items). */
  weightsOnHost(): Float32Array {
    return this.cpu.read(this.weights);
  }

  /** "kept the 13,377 most popular of 87,585 items" or null when all are kept. */
  describeCap(): string | null {
    return this.kept ? `kept the ${this.items.toLocaleString("en-US")} most popular of ${this.allItems.toLocaleString("en-US")} items` : null;
  }

  score(from: number, to: number, out: Float32Array): void {
    const need = (to - from) * this.items;
    if (!this.out || this.out.length < need) this.out = this.cpu.zeros("f32", need);
    this.cpu.spmm(this.x, from, to, this.weights, this.items, this.out);
    const scores = this.cpu.read(this.out, 0, need);
    if (!this.kept) {
      out.set(scores);
      return;
    }
    const { kept, items, allItems } = this;
    for (let r = 0; r < to - from; r++) {
      const row = out.subarray(r * allItems, (r + 1) * allItems);
      row.fill(Number.NEGATIVE_INFINITY);
      for (let k = 0; k < items; k++) row[kept[k]] = scores[r * items + k];
    }
  }
}

/** The `n` items with the most train interactions (ties: lower index), ascending. */
function mostPopular(train: Csr, n: number): Int32Array {
  const counts = new Int32Array(train.cols);
  for (let p = 0; p < train.indptr[train.rows]; p++) counts[train.indices[p]]++;
  const order = Int32Array.from({ length: train.cols }, (_, i) => i).sort((a, b) => counts[b] - counts[a] || a - b);
  return order.slice(0, n).sort();
}

/** The train matrix over the kept items only, columns renumbered 0..kept.length - 1. */
function restrictColumns(train: Csr, kept: Int32Array): Csr {
  const local = new Int32Array(train.cols).fill(-1);
  kept.forEach((item, k) => {
    local[item] = k;
  });
  const indptr = new Int32Array(train.rows + 1);
  const indices: number[] = [];
  for (let u = 0; u < train.rows; u++) {
    for (let p = train.indptr[u]; p < train.indptr[u + 1]; p++) if (local[train.indices[p]] >= 0) indices.push(local[train.indices[p]]);
    indptr[u + 1] = indices.length;
  }
  return { rows: train.rows, cols: kept.length, indptr, indices: Int32Array.from(indices) };
}
