// Matrix-factorization kernels for the classic baselines (iALS, biased MF by SGD).
// Part of the kernels module (index: kernels.ts); pointers are byte offsets into the one
// imported linear memory, and the host passes every buffer.

// Matrix-factorization kernels for the classic baselines.

/**
 * One half-sweep of implicit ALS (Hu, Koren, Volinsky 2008) for rows r0..r1 of a binary CSR
 * matrix: x_r = (Y^T Y + alpha * sum_{i in row} y_i y_i^T + lambda I)^-1 (1 + alpha) sum y_i,
 * i.e. confidence 1 + alpha on observed entries, preference 1, squared loss on all entries.
 * Y [cols x d] and X [rows x d] are f32, yty [d x d] is f64; scratch holds d * d + d f64.
 */
export function alsRows(indptr: usize, indices: usize, r0: i32, r1: i32, y: usize, yty: usize, x: usize,
  d: i32, alpha: f64, lambda: f64, scratch: usize): void {
  const a = scratch;
  const b = scratch + <usize>d * d * 8;
  const rowBytes = <usize>d * 4;
  for (let r = r0; r < r1; r++) {
    memory.copy(a, yty, <usize>d * d * 8);
    for (let c = 0; c < d; c++) {
      store<f64>(a + (<usize>(c * d + c) << 3), load<f64>(a + (<usize>(c * d + c) << 3)) + lambda);
      store<f64>(b + (<usize>c << 3), 0);
    }
    const start = load<i32>(indptr + (<usize>r << 2));
    const end = load<i32>(indptr + (<usize>(r + 1) << 2));
    for (let p = start; p < end; p++) {
      const yi = y + <usize>load<i32>(indices + (<usize>p << 2)) * rowBytes;
      for (let c = 0; c < d; c++) {
        const v = <f64>load<f32>(yi + (<usize>c << 2));
        store<f64>(b + (<usize>c << 3), load<f64>(b + (<usize>c << 3)) + (1 + alpha) * v);
        const av = alpha * v;
        const arow = a + <usize>c * d * 8;
        // lower triangle only: the solve below reads just that
        for (let e = 0; e <= c; e++) {
          store<f64>(arow + (<usize>e << 3), load<f64>(arow + (<usize>e << 3)) + av * <f64>load<f32>(yi + (<usize>e << 2)));
        }
      }
    }
    choleskySolve(a, b, d);
    const xr = x + <usize>r * rowBytes;
    for (let c = 0; c < d; c++) store<f32>(xr + (<usize>c << 2), <f32>load<f64>(b + (<usize>c << 3)));
  }
}

/** Solves A z = b in place (b <- z) for SPD A [n x n] f64, using and overwriting A's lower triangle. */
function choleskySolve(a: usize, b: usize, n: i32): void {
  for (let j = 0; j < n; j++) {
    const rowJ = a + <usize>j * n * 8;
    let s = load<f64>(rowJ + (<usize>j << 3));
    for (let k = 0; k < j; k++) { const v = load<f64>(rowJ + (<usize>k << 3)); s -= v * v; }
    const ljj = Math.sqrt(s);
    store<f64>(rowJ + (<usize>j << 3), ljj);
    for (let i = j + 1; i < n; i++) {
      const rowI = a + <usize>i * n * 8;
      let t = load<f64>(rowI + (<usize>j << 3));
      for (let k = 0; k < j; k++) t -= load<f64>(rowI + (<usize>k << 3)) * load<f64>(rowJ + (<usize>k << 3));
      store<f64>(rowI + (<usize>j << 3), t / ljj);
    }
  }
  for (let i = 0; i < n; i++) { // L z' = b
    const rowI = a + <usize>i * n * 8;
    let t = load<f64>(b + (<usize>i << 3));
    for (let k = 0; k < i; k++) t -= load<f64>(rowI + (<usize>k << 3)) * load<f64>(b + (<usize>k << 3));
    store<f64>(b + (<usize>i << 3), t / load<f64>(rowI + (<usize>i << 3)));
  }
  for (let i = n - 1; i >= 0; i--) { // L^T z = z'
    let t = load<f64>(b + (<usize>i << 3));
    for (let k = i + 1; k < n; k++) t -= load<f64>(a + (<usize>(k * n + i) << 3)) * load<f64>(b + (<usize>k << 3));
    store<f64>(b + (<usize>i << 3), t / load<f64>(a + (<usize>(i * n + i) << 3)));
  }
}

/**
 * One epoch of SGD for biased matrix factorization on explicit ratings, as the Surprise
 * library's SVD: for each (u, i, r) in the given order, e = r - (mu + bu + bi + q_i . p_u);
 * bu += lr (e - reg bu); bi += lr (e - reg bi); p_u += lr (e q_i - reg p_u);
 * q_i += lr (e p_u - reg q_i) (with the old p_u). Returns the summed squared error.
 */
export function sgdBiasedMf(users: usize, items: usize, ratings: usize, order: usize, n: i32,
  p: usize, q: usize, bu: usize, bi: usize, d: i32, mu: f32, lr: f32, reg: f32): f64 {
  let sse: f64 = 0;
  const rowBytes = <usize>d * 4;
  for (let t = 0; t < n; t++) {
    const k = <usize>load<i32>(order + (<usize>t << 2));
    const u = <usize>load<i32>(users + (k << 2));
    const i = <usize>load<i32>(items + (k << 2));
    const pu = p + u * rowBytes;
    const qi = q + i * rowBytes;
    let dot: f32 = 0;
    for (let c = 0; c < d; c++) dot += load<f32>(pu + (<usize>c << 2)) * load<f32>(qi + (<usize>c << 2));
    const bup = bu + (u << 2);
    const bip = bi + (i << 2);
    const e: f32 = load<f32>(ratings + (k << 2)) - (mu + load<f32>(bup) + load<f32>(bip) + dot);
    sse += <f64>e * <f64>e;
    store<f32>(bup, load<f32>(bup) + lr * (e - reg * load<f32>(bup)));
    store<f32>(bip, load<f32>(bip) + lr * (e - reg * load<f32>(bip)));
    for (let c = 0; c < d; c++) {
      const pc = load<f32>(pu + (<usize>c << 2));
      const qc = load<f32>(qi + (<usize>c << 2));
      store<f32>(pu + (<usize>c << 2), pc + lr * (e * qc - reg * pc));
      store<f32>(qi + (<usize>c << 2), qc + lr * (e * pc - reg * qc));
    }
  }
  return sse;
}
