// Item-item model kernels (EASE, ItemKNN): their weights from the item Gram matrix, f64
// arithmetic stored as f32 weights, row-major n x n.
// Part of the kernels module (index: kernels.ts); pointers are byte offsets into the one
// imported linear memory, and the host passes every buffer.

/** a[i][i] += value for the n x n f64 matrix a. */
export function addDiagonalF64(a: usize, n: i32, value: f64): void {
  for (let i = 0; i < n; i++) {
    const at = a + ((<usize>i * <usize>n + <usize>i) << 3);
    store<f64>(at, load<f64>(at) + value);
  }
}

/** EASE: w[i][j] = -P[i][j] / P[j][j] off the diagonal, 0 on it, from P = (G + lambda I)^-1. */
export function easeWeightsF32(inverse: usize, w: usize, n: i32): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const at = <usize>i * <usize>n + <usize>j;
      const value: f64 = i == j ? 0 : -load<f64>(inverse + (at << 3)) / load<f64>(inverse + ((<usize>j * <usize>n + <usize>j) << 3));
      store<f32>(w + (at << 2), <f32>value);
    }
  }
}

/** Scratch bytes itemKnnWeights needs for n items and k neighbours. */
export function itemKnnScratchBytes(n: i32, k: i32): f64 {
  return <f64>n * 16 + <f64>k * 12 + 16;
}

/**
 * ItemKNN: for every target item j, the cosine S_ij = G_ij / (sqrt(G_ii G_jj) + shrink) of the
 * binary Gram matrix G, and only j's k most similar items i keep theirs: w[i][j] = S_ij. Ties
 * go to the smaller index and items with no co-occurrence are never neighbours, exactly as the
 * host's top-K selection does it.
 */
export function itemKnnWeights(gram: usize, w: usize, n: i32, k: i32, shrink: f64, scratch: usize): void {
  const norm = scratch;
  const sim = norm + (<usize>n << 3);
  const best = sim + (<usize>n << 3);
  const idx = best + (<usize>k << 3);
  for (let i = 0; i < n; i++) store<f64>(norm + (<usize>i << 3), Math.sqrt(load<f64>(gram + ((<usize>i * <usize>n + <usize>i) << 3))));
  for (let j = 0; j < n; j++) {
    const nj = load<f64>(norm + (<usize>j << 3));
    // the Gram matrix is symmetric: column j is row j
    for (let i = 0; i < n; i++) {
      const co = load<f64>(gram + ((<usize>j * <usize>n + <usize>i) << 3));
      const s: f64 = i == j || co == 0 ? -Infinity : co / (load<f64>(norm + (<usize>i << 3)) * nj + shrink);
      store<f64>(sim + (<usize>i << 3), s);
    }
    let count = 0;
    for (let i = 0; i < n; i++) {
      const s = load<f64>(sim + (<usize>i << 3));
      if (!(s > -Infinity)) continue;
      if (count == k && !(s > load<f64>(best + (<usize>(k - 1) << 3)))) continue;
      let pos = count == k ? k - 1 : count;
      while (pos > 0 && load<f64>(best + (<usize>(pos - 1) << 3)) < s) {
        store<f64>(best + (<usize>pos << 3), load<f64>(best + (<usize>(pos - 1) << 3)));
        store<i32>(idx + (<usize>pos << 2), load<i32>(idx + (<usize>(pos - 1) << 2)));
        pos--;
      }
      store<f64>(best + (<usize>pos << 3), s);
      store<i32>(idx + (<usize>pos << 2), i);
      if (count < k) count++;
    }
    for (let r = 0; r < count; r++) {
      const i = load<i32>(idx + (<usize>r << 2));
      store<f32>(w + ((<usize>i * <usize>n + <usize>j) << 2), <f32>load<f64>(best + (<usize>r << 3)));
    }
  }
}
