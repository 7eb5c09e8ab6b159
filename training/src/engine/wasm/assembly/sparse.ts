// Sparse CSR kernels: the binary Gram matrix and sparse times dense.
// Part of the kernels module (index: kernels.ts); pointers are byte offsets into the one
// imported linear memory, and the host passes every buffer.

// Sparse kernels over CSR matrices (indptr: i32[rows + 1], indices: i32[nnz],
// values: f32[nnz] or 0 for an all-ones matrix).

/** out[n x n] (f64, must start zeroed) += X^T X for the binary CSR matrix X. */
export function gramBinaryF64(indptr: usize, indices: usize, rows: i32, out: usize, n: i32): void {
  for (let r = 0; r < rows; r++) {
    const start = load<i32>(indptr + (<usize>r << 2));
    const end = load<i32>(indptr + (<usize>(r + 1) << 2));
    for (let x = start; x < end; x++) {
      const row = out + <usize>load<i32>(indices + (<usize>x << 2)) * n * 8;
      for (let y = start; y < end; y++) {
        const ptr = row + (<usize>load<i32>(indices + (<usize>y << 2)) << 3);
        store<f64>(ptr, load<f64>(ptr) + 1.0);
      }
    }
  }
}

/**
 * out[(r - r0) x d] = sum over nonzeros (r, j) of value * dense[j x d], for rows r0..r1.
 * Sparse rows times a dense f32 matrix: scoring with item-item models, and graph propagation.
 */
export function spmmF32(indptr: usize, indices: usize, values: usize, r0: i32, r1: i32,
  dense: usize, d: i32, out: usize): void {
  const d4 = d & ~3;
  for (let r = r0; r < r1; r++) {
    const o = out + <usize>(r - r0) * d * 4;
    for (let c = 0; c < d; c++) store<f32>(o + (<usize>c << 2), 0.0);
    const start = load<i32>(indptr + (<usize>r << 2));
    const end = load<i32>(indptr + (<usize>(r + 1) << 2));
    for (let x = start; x < end; x++) {
      const w: f32 = values == 0 ? 1.0 : load<f32>(values + (<usize>x << 2));
      const src = dense + <usize>load<i32>(indices + (<usize>x << 2)) * d * 4;
      const wv = f32x4.splat(w);
      let c = 0;
      for (; c < d4; c += 4) {
        const off = <usize>c << 2;
        v128.store(o + off, f32x4.add(v128.load(o + off), f32x4.mul(wv, v128.load(src + off))));
      }
      for (; c < d; c++) {
        const off = <usize>c << 2;
        store<f32>(o + off, load<f32>(o + off) + w * load<f32>(src + off));
      }
    }
  }
}
