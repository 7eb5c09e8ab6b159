// WebAssembly SIMD kernels. Every hot loop of training and evaluation lives here; the host
// (../kernels.ts) owns the memory layout and exposes a typed API. Pointers are byte offsets
// into the single linear memory, matrices are row-major unless a stride says otherwise.
// No allocation happens in here: the host passes every buffer, scratch included.

// ---------------------------------------------------------------------------------------
// Dense f64 GEMM: C[m x n] = alpha * op(A)[m x k] * op(B)[k x n] + beta * C.
// op(A)[i][p] = A[i * rsA + p * csA] (element strides), so transposes cost nothing extra:
// packing reads through the strides. Goto-style blocking: a kc x nc panel of B and an
// mc x kc block of A are packed into contiguous micro-panels, and a 4 x 4 register tile
// (8 f64x2 accumulators) walks them.

const MR: i32 = 4;
const NR: i32 = 4;
const KC: i32 = 256;
const MC: i32 = 96;
const NC: i32 = 2048;

/** Bytes of scratch a gemm call needs for its packed panels. */
export function gemmScratchBytes(): i32 {
  return (KC * NC + MC * KC) * 8;
}

function packB(b: usize, rsB: i32, csB: i32, p0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  // layout: for each NR-wide column panel, kc rows of NR values (zero padded)
  for (let jr = 0; jr < nc; jr += NR) {
    const w = min(NR, nc - jr);
    for (let p = 0; p < kc; p++) {
      const src = b + (<usize>(p0 + p) * rsB + <usize>(j0 + jr) * csB) * 8;
      for (let c = 0; c < NR; c++) {
        store<f64>(dst + (<usize>c << 3), c < w ? load<f64>(src + <usize>c * csB * 8) : 0.0);
      }
      dst += NR * 8;
    }
  }
}

function packA(a: usize, rsA: i32, csA: i32, i0: i32, mc: i32, p0: i32, kc: i32, dst: usize): void {
  // layout: for each MR-tall row panel, kc columns of MR values (zero padded)
  for (let ir = 0; ir < mc; ir += MR) {
    const h = min(MR, mc - ir);
    for (let p = 0; p < kc; p++) {
      const src = a + (<usize>(i0 + ir) * rsA + <usize>(p0 + p) * csA) * 8;
      for (let r = 0; r < MR; r++) {
        store<f64>(dst + (<usize>r << 3), r < h ? load<f64>(src + <usize>r * rsA * 8) : 0.0);
      }
      dst += MR * 8;
    }
  }
}

// @ts-ignore: decorator
@inline
function tileStore(c: usize, ldc: i32, h: i32, w: i32, alpha: f64, beta: f64, first: bool,
  r: i32, acc0: v128, acc1: v128): void {
  if (r >= h) return;
  const row = c + <usize>r * ldc * 8;
  const s0 = f64x2.mul(acc0, f64x2.splat(alpha));
  const s1 = f64x2.mul(acc1, f64x2.splat(alpha));
  if (w == NR) {
    let c0 = v128.load(row);
    let c1 = v128.load(row, 16);
    if (first) {
      if (beta == 0.0) { c0 = f64x2.splat(0.0); c1 = f64x2.splat(0.0); }
      else { c0 = f64x2.mul(c0, f64x2.splat(beta)); c1 = f64x2.mul(c1, f64x2.splat(beta)); }
    }
    v128.store(row, f64x2.add(c0, s0));
    v128.store(row, f64x2.add(c1, s1), 16);
    return;
  }
  for (let j = 0; j < w; j++) {
    const v = j == 0 ? f64x2.extract_lane(s0, 0) : j == 1 ? f64x2.extract_lane(s0, 1)
      : j == 2 ? f64x2.extract_lane(s1, 0) : f64x2.extract_lane(s1, 1);
    const ptr = row + (<usize>j << 3);
    let old = load<f64>(ptr);
    if (first) old = beta == 0.0 ? 0.0 : old * beta;
    store<f64>(ptr, old + v);
  }
}

function microKernel(kc: i32, ap: usize, bp: usize, c: usize, ldc: i32, h: i32, w: i32,
  alpha: f64, beta: f64, first: bool): void {
  let c00 = f64x2.splat(0.0), c01 = f64x2.splat(0.0);
  let c10 = f64x2.splat(0.0), c11 = f64x2.splat(0.0);
  let c20 = f64x2.splat(0.0), c21 = f64x2.splat(0.0);
  let c30 = f64x2.splat(0.0), c31 = f64x2.splat(0.0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a = v128.load64_splat(ap);
    c00 = f64x2.add(c00, f64x2.mul(a, b0)); c01 = f64x2.add(c01, f64x2.mul(a, b1));
    a = v128.load64_splat(ap, 8);
    c10 = f64x2.add(c10, f64x2.mul(a, b0)); c11 = f64x2.add(c11, f64x2.mul(a, b1));
    a = v128.load64_splat(ap, 16);
    c20 = f64x2.add(c20, f64x2.mul(a, b0)); c21 = f64x2.add(c21, f64x2.mul(a, b1));
    a = v128.load64_splat(ap, 24);
    c30 = f64x2.add(c30, f64x2.mul(a, b0)); c31 = f64x2.add(c31, f64x2.mul(a, b1));
    ap += MR * 8;
    bp += NR * 8;
  }
  tileStore(c, ldc, h, w, alpha, beta, first, 0, c00, c01);
  tileStore(c, ldc, h, w, alpha, beta, first, 1, c10, c11);
  tileStore(c, ldc, h, w, alpha, beta, first, 2, c20, c21);
  tileStore(c, ldc, h, w, alpha, beta, first, 3, c30, c31);
}

export function gemmF64(m: i32, n: i32, k: i32, alpha: f64,
  a: usize, rsA: i32, csA: i32, b: usize, rsB: i32, csB: i32,
  beta: f64, c: usize, ldc: i32, scratch: usize): void {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        const ptr = c + (<usize>i * ldc + j) * 8;
        store<f64>(ptr, beta == 0.0 ? 0.0 : load<f64>(ptr) * beta);
      }
    }
    return;
  }
  const bPack = scratch;
  const aPack = scratch + <usize>KC * NC * 8;
  for (let j0 = 0; j0 < n; j0 += NC) {
    const nc = min(NC, n - j0);
    for (let p0 = 0; p0 < k; p0 += KC) {
      const kc = min(KC, k - p0);
      const first = p0 == 0;
      packB(b, rsB, csB, p0, kc, j0, nc, bPack);
      for (let i0 = 0; i0 < m; i0 += MC) {
        const mc = min(MC, m - i0);
        packA(a, rsA, csA, i0, mc, p0, kc, aPack);
        for (let jr = 0; jr < nc; jr += NR) {
          const w = min(NR, nc - jr);
          const bp = bPack + <usize>jr * kc * 8;
          for (let ir = 0; ir < mc; ir += MR) {
            const h = min(MR, mc - ir);
            const cp = c + (<usize>(i0 + ir) * ldc + <usize>(j0 + jr)) * 8;
            microKernel(kc, aPack + <usize>ir * kc * 8, bp, cp, ldc, h, w, alpha, beta, first);
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// In-place inverse of a symmetric positive definite f64 matrix by recursive 2 x 2 blocking
// on the Schur complement: almost all work becomes GEMM. SPD Schur complements are SPD,
// so no pivoting is needed.
//   X11 = inv(A11); T1 = X11 A12; S = A22 - A21 T1; Y = inv(S); T2 = T1 Y
//   inv(A) = [[X11 + T2 T1^T, -T2], [-T2^T, Y]]

const BASE: i32 = 64;

function gaussJordanSpd(a: usize, lda: i32, n: i32): void {
  for (let k = 0; k < n; k++) {
    const rowK = a + <usize>k * lda * 8;
    const inv = 1.0 / load<f64>(rowK + (<usize>k << 3));
    store<f64>(rowK + (<usize>k << 3), 1.0);
    for (let j = 0; j < n; j++) store<f64>(rowK + (<usize>j << 3), load<f64>(rowK + (<usize>j << 3)) * inv);
    for (let i = 0; i < n; i++) {
      if (i == k) continue;
      const rowI = a + <usize>i * lda * 8;
      const f = load<f64>(rowI + (<usize>k << 3));
      if (f == 0.0) continue;
      store<f64>(rowI + (<usize>k << 3), 0.0);
      for (let j = 0; j < n; j++) {
        const ptr = rowI + (<usize>j << 3);
        store<f64>(ptr, load<f64>(ptr) - f * load<f64>(rowK + (<usize>j << 3)));
      }
    }
  }
}

/** Scratch bytes spdInverseF64 needs for an n x n matrix (temporaries + packed panels). */
export function spdInverseScratchBytes(n: i32): f64 {
  let total: f64 = 0;
  while (n > BASE) {
    const n1 = n >> 1;
    const n2 = n - n1;
    total += 2.0 * <f64>n1 * <f64>n2 * 8.0;
    n = n2;
  }
  return total + <f64>gemmScratchBytes();
}

export function spdInverseF64(a: usize, lda: i32, n: i32, scratch: usize): void {
  if (n <= BASE) { gaussJordanSpd(a, lda, n); return; }
  const n1 = n >> 1;
  const n2 = n - n1;
  const a11 = a;
  const a12 = a + (<usize>n1 << 3);
  const a21 = a + <usize>n1 * lda * 8;
  const a22 = a21 + (<usize>n1 << 3);
  const t1 = scratch;
  const t2 = t1 + <usize>n1 * n2 * 8;
  const rest = t2 + <usize>n1 * n2 * 8;
  // The innermost temporaries sit at the end of the chain; the gemm panels go after them.
  const pack = scratch + <usize>(spdInverseScratchBytes(n) - <f64>gemmScratchBytes());

  spdInverseF64(a11, lda, n1, rest);
  gemmF64(n1, n2, n1, 1.0, a11, lda, 1, a12, lda, 1, 0.0, t1, n2, pack);
  gemmF64(n2, n2, n1, -1.0, a21, lda, 1, t1, n2, 1, 1.0, a22, lda, pack);
  spdInverseF64(a22, lda, n2, rest);
  gemmF64(n1, n2, n2, 1.0, t1, n2, 1, a22, lda, 1, 0.0, t2, n2, pack);
  gemmF64(n1, n1, n2, 1.0, t2, n2, 1, t1, 1, n2, 1.0, a11, lda, pack);
  for (let i = 0; i < n1; i++) {
    for (let j = 0; j < n2; j++) {
      const v = -load<f64>(t2 + (<usize>i * n2 + j) * 8);
      store<f64>(a12 + (<usize>i * lda + j) * 8, v);
      store<f64>(a21 + (<usize>j * lda + i) * 8, v);
    }
  }
}

// ---------------------------------------------------------------------------------------
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

// ---------------------------------------------------------------------------------------
// Graph-model kernels (LightGCN, BPR-MF): f32 embeddings, row-major [rows x d].

// @ts-ignore: decorator
@inline
function madd(a: v128, b: v128, c: v128): v128 {
  return f32x4.relaxed_madd(a, b, c);
}

/**
 * Propagation over rows r0..r0+rows of a weighted CSR matrix (the normalized adjacency, or one
 * column block of it): sum_r = sum_j A[r][j] * src[j], with indptr[i] giving row r0+i's
 * entries. dst[r] = sum_r, or dst[r] += sum_r when accumulateDst (later column blocks of the
 * same rows); dst == 0 skips it. acc[r] += sum_r unless acc == 0.
 * d = 64 keeps the whole output row in 16 registers; other widths take the generic path.
 */
export function propagateF32(indptr: usize, indices: usize, values: usize, r0: i32, rows: i32,
  src: usize, dst: usize, acc: usize, d: i32, accumulateDst: i32): void {
  if (d == 64) { propagate64(indptr, indices, values, r0, rows, src, dst, acc, accumulateDst != 0); return; }
  const d4 = d & ~3;
  for (let i = 0; i < rows; i++) {
    const start = load<i32>(indptr + (<usize>i << 2));
    const end = load<i32>(indptr + (<usize>(i + 1) << 2));
    const rowOff = <usize>(r0 + i) * d * 4;
    let c = 0;
    for (; c < d4; c += 4) {
      let s = f32x4.splat(0);
      for (let x = start; x < end; x++) {
        const w = v128.load32_splat(values + (<usize>x << 2));
        const srcRow = src + <usize>load<i32>(indices + (<usize>x << 2)) * d * 4;
        s = madd(w, v128.load(srcRow + (<usize>c << 2)), s);
      }
      const o = rowOff + (<usize>c << 2);
      if (dst != 0) v128.store(dst + o, accumulateDst ? f32x4.add(v128.load(dst + o), s) : s);
      if (acc != 0) v128.store(acc + o, f32x4.add(v128.load(acc + o), s));
    }
    for (; c < d; c++) {
      let s: f32 = 0;
      for (let x = start; x < end; x++) {
        const srcRow = src + <usize>load<i32>(indices + (<usize>x << 2)) * d * 4;
        s += load<f32>(values + (<usize>x << 2)) * load<f32>(srcRow + (<usize>c << 2));
      }
      const o = rowOff + (<usize>c << 2);
      if (dst != 0) store<f32>(dst + o, accumulateDst ? load<f32>(dst + o) + s : s);
      if (acc != 0) store<f32>(acc + o, load<f32>(acc + o) + s);
    }
  }
}

// @ts-ignore: decorator
@inline
function store64(o: usize, add: bool, a0: v128, a1: v128, a2: v128, a3: v128, a4: v128, a5: v128, a6: v128, a7: v128,
  a8: v128, a9: v128, a10: v128, a11: v128, a12: v128, a13: v128, a14: v128, a15: v128): void {
  if (add) {
    a0 = f32x4.add(v128.load(o, 0), a0); a1 = f32x4.add(v128.load(o, 16), a1);
    a2 = f32x4.add(v128.load(o, 32), a2); a3 = f32x4.add(v128.load(o, 48), a3);
    a4 = f32x4.add(v128.load(o, 64), a4); a5 = f32x4.add(v128.load(o, 80), a5);
    a6 = f32x4.add(v128.load(o, 96), a6); a7 = f32x4.add(v128.load(o, 112), a7);
    a8 = f32x4.add(v128.load(o, 128), a8); a9 = f32x4.add(v128.load(o, 144), a9);
    a10 = f32x4.add(v128.load(o, 160), a10); a11 = f32x4.add(v128.load(o, 176), a11);
    a12 = f32x4.add(v128.load(o, 192), a12); a13 = f32x4.add(v128.load(o, 208), a13);
    a14 = f32x4.add(v128.load(o, 224), a14); a15 = f32x4.add(v128.load(o, 240), a15);
  }
  v128.store(o, a0, 0); v128.store(o, a1, 16); v128.store(o, a2, 32); v128.store(o, a3, 48);
  v128.store(o, a4, 64); v128.store(o, a5, 80); v128.store(o, a6, 96); v128.store(o, a7, 112);
  v128.store(o, a8, 128); v128.store(o, a9, 144); v128.store(o, a10, 160); v128.store(o, a11, 176);
  v128.store(o, a12, 192); v128.store(o, a13, 208); v128.store(o, a14, 224); v128.store(o, a15, 240);
}

function propagate64(indptr: usize, indices: usize, values: usize, r0: i32, rows: i32,
  src: usize, dst: usize, acc: usize, accumulateDst: bool): void {
  for (let i = 0; i < rows; i++) {
    const start = load<i32>(indptr + (<usize>i << 2));
    const end = load<i32>(indptr + (<usize>(i + 1) << 2));
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0);
    let a8 = f32x4.splat(0), a9 = f32x4.splat(0), a10 = f32x4.splat(0), a11 = f32x4.splat(0);
    let a12 = f32x4.splat(0), a13 = f32x4.splat(0), a14 = f32x4.splat(0), a15 = f32x4.splat(0);
    for (let x = start; x < end; x++) {
      const w = v128.load32_splat(values + (<usize>x << 2));
      const s = src + (<usize>load<i32>(indices + (<usize>x << 2)) << 8);
      a0 = madd(w, v128.load(s, 0), a0); a1 = madd(w, v128.load(s, 16), a1);
      a2 = madd(w, v128.load(s, 32), a2); a3 = madd(w, v128.load(s, 48), a3);
      a4 = madd(w, v128.load(s, 64), a4); a5 = madd(w, v128.load(s, 80), a5);
      a6 = madd(w, v128.load(s, 96), a6); a7 = madd(w, v128.load(s, 112), a7);
      a8 = madd(w, v128.load(s, 128), a8); a9 = madd(w, v128.load(s, 144), a9);
      a10 = madd(w, v128.load(s, 160), a10); a11 = madd(w, v128.load(s, 176), a11);
      a12 = madd(w, v128.load(s, 192), a12); a13 = madd(w, v128.load(s, 208), a13);
      a14 = madd(w, v128.load(s, 224), a14); a15 = madd(w, v128.load(s, 240), a15);
    }
    const off = <usize>(r0 + i) << 8;
    if (dst != 0) store64(dst + off, accumulateDst, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15);
    if (acc != 0) store64(acc + off, true, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15);
  }
}

/**
 * Runs a list of propagation tiles in order (one thread's share). Each tile is 6 i32:
 * indptr, indices, values, r0, rows, accumulateDst. Tiles restrict the gathered rows to one
 * column block so they stay in this core's L2 cache.
 */
export function propagateTiles(table: usize, nTiles: i32, src: usize, dst: usize, acc: usize, d: i32): void {
  for (let t = 0; t < nTiles; t++) {
    const e = table + <usize>t * 24;
    propagateF32(<usize>load<i32>(e), <usize>load<i32>(e, 4), <usize>load<i32>(e, 8), load<i32>(e, 12), load<i32>(e, 16),
      src, dst, acc, d, load<i32>(e, 20));
  }
}

// @ts-ignore: decorator
@inline
function dotRows(a: usize, b: usize, d: i32): f32 {
  let s = f32x4.splat(0);
  const d4 = d & ~3;
  let c = 0;
  for (; c < d4; c += 4) s = madd(v128.load(a + (<usize>c << 2)), v128.load(b + (<usize>c << 2)), s);
  let t: f32 = f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
  for (; c < d; c++) t += load<f32>(a + (<usize>c << 2)) * load<f32>(b + (<usize>c << 2));
  return t;
}

// @ts-ignore: decorator
@inline
function axpy(alpha: f32, x: usize, y: usize, d: i32): void {
  const av = f32x4.splat(alpha);
  const d4 = d & ~3;
  let c = 0;
  for (; c < d4; c += 4) {
    const o = <usize>c << 2;
    v128.store(y + o, madd(av, v128.load(x + o), v128.load(y + o)));
  }
  for (; c < d; c++) store<f32>(y + (<usize>c << 2), load<f32>(y + (<usize>c << 2)) + alpha * load<f32>(x + (<usize>c << 2)));
}

/**
 * BPR over triples t0..t1 (user, positive item, negative item; items are node indices, i.e.
 * already offset by the user count). Embeddings are read as embScale * emb. Adds
 * dLoss/d(final embedding) into grad, where the loss is mean over the batch of
 * softplus(-(s_up - s_un)) and gradScale = 1 / batch size. Returns the summed softplus.
 */
export function bprGrad(users: usize, pos: usize, neg: usize, t0: i32, t1: i32,
  emb: usize, embScale: f32, grad: usize, d: i32, gradScale: f32): f64 {
  let loss: f64 = 0;
  const rowBytes = <usize>d * 4;
  for (let t = t0; t < t1; t++) {
    const u = emb + <usize>load<i32>(users + (<usize>t << 2)) * rowBytes;
    const p = emb + <usize>load<i32>(pos + (<usize>t << 2)) * rowBytes;
    const n = emb + <usize>load<i32>(neg + (<usize>t << 2)) * rowBytes;
    const x: f32 = embScale * embScale * (dotRows(u, p, d) - dotRows(u, n, d));
    // softplus(-x) computed stably; sigmoid(-x) is its derivative's magnitude
    const ax: f64 = <f64>x;
    loss += ax > 0 ? Math.log1p(Math.exp(-ax)) : -ax + Math.log1p(Math.exp(ax));
    const sig: f32 = <f32>(1.0 / (1.0 + Math.exp(ax)));
    const g: f32 = -sig * gradScale * embScale;
    const gu = grad + <usize>load<i32>(users + (<usize>t << 2)) * rowBytes;
    const gp = grad + <usize>load<i32>(pos + (<usize>t << 2)) * rowBytes;
    const gn = grad + <usize>load<i32>(neg + (<usize>t << 2)) * rowBytes;
    // grad is dLoss/dF for the final embeddings F = embScale * emb, so each factor carries one
    // embScale (inside g) and the raw row
    axpy(g, p, gu, d);
    axpy(-g, n, gu, d);
    axpy(g, u, gp, d);
    axpy(-g, u, gn, d);
  }
  return loss;
}

/** grad[row] += coef * param[row] for every row named in the triples t0..t1 (L2 on ego embeddings). */
export function l2Grad(users: usize, pos: usize, neg: usize, t0: i32, t1: i32,
  param: usize, grad: usize, d: i32, coef: f32): f64 {
  let sq: f64 = 0;
  const rowBytes = <usize>d * 4;
  for (let t = t0; t < t1; t++) {
    for (let k = 0; k < 3; k++) {
      const list = k == 0 ? users : k == 1 ? pos : neg;
      const off = <usize>load<i32>(list + (<usize>t << 2)) * rowBytes;
      const pr = param + off;
      sq += <f64>dotRows(pr, pr, d);
      axpy(coef, pr, grad + off, d);
    }
  }
  return sq;
}

/**
 * Adam over floats i0..i1: g = gradScale * grad; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 * param -= lr * (m / bc1) / (sqrt(v / bc2) + eps).
 */
export function adamF32(param: usize, grad: usize, m: usize, v: usize, i0: i32, i1: i32,
  gradScale: f32, lr: f32, b1: f32, b2: f32, eps: f32, bc1: f32, bc2: f32): void {
  const gs = f32x4.splat(gradScale);
  const vb1 = f32x4.splat(b1), vb1c = f32x4.splat(1 - b1);
  const vb2 = f32x4.splat(b2), vb2c = f32x4.splat(1 - b2);
  const step = f32x4.splat(lr / bc1);
  const ibc2 = f32x4.splat(1 / bc2);
  const veps = f32x4.splat(eps);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const o = <usize>i << 2;
    const g = f32x4.mul(v128.load(grad + o), gs);
    const mm = madd(vb1c, g, f32x4.mul(vb1, v128.load(m + o)));
    const vv = madd(vb2c, f32x4.mul(g, g), f32x4.mul(vb2, v128.load(v + o)));
    v128.store(m + o, mm);
    v128.store(v + o, vv);
    const denom = f32x4.add(f32x4.sqrt(f32x4.mul(vv, ibc2)), veps);
    v128.store(param + o, f32x4.sub(v128.load(param + o), f32x4.div(f32x4.mul(step, mm), denom)));
  }
  for (; i < i1; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(grad + o) * gradScale;
    const mm = b1 * load<f32>(m + o) + (1 - b1) * g;
    const vv = b2 * load<f32>(v + o) + (1 - b2) * g * g;
    store<f32>(m + o, mm);
    store<f32>(v + o, vv);
    store<f32>(param + o, load<f32>(param + o) - (lr / bc1) * mm / (<f32>Math.sqrt(vv / bc2) + eps));
  }
}

/** out[(u - u0) x nItems] = userEmb[u] . itemEmb[i] for users u0..u1 and every item. */
export function dotScoresF32(userEmb: usize, itemEmb: usize, nItems: i32, d: i32, u0: i32, u1: i32, out: usize): void {
  const rowBytes = <usize>d * 4;
  for (let u = u0; u < u1; u++) {
    const ur = userEmb + <usize>u * rowBytes;
    const o = out + <usize>(u - u0) * nItems * 4;
    for (let i = 0; i < nItems; i++) store<f32>(o + (<usize>i << 2), dotRows(ur, itemEmb + <usize>i * rowBytes, d));
  }
}

// ---------------------------------------------------------------------------------------
// NGCF layer kernels (Wang et al., SIGIR 2019), rows r0..r1 of [rows x d] f32 matrices,
// d x d weights row-major. P = X + S and Q = S * X (element-wise) with S = A_hat X.

// @ts-ignore: decorator
@inline
function vecTimesMatrix(v: usize, w: usize, out: usize, d: i32, accumulate: bool): void {
  // out[0..d) (+)= v[0..d) W, W [d x d]
  const d4 = d & ~3;
  for (let j = 0; j < d4; j += 4) {
    let s = accumulate ? v128.load(out + (<usize>j << 2)) : f32x4.splat(0);
    for (let p = 0; p < d; p++) s = madd(v128.load32_splat(v + (<usize>p << 2)), v128.load(w + ((<usize>p * d + j) << 2)), s);
    v128.store(out + (<usize>j << 2), s);
  }
  for (let j = d4; j < d; j++) {
    let s: f32 = accumulate ? load<f32>(out + (<usize>j << 2)) : 0;
    for (let p = 0; p < d; p++) s += load<f32>(v + (<usize>p << 2)) * load<f32>(w + ((<usize>p * d + j) << 2));
    store<f32>(out + (<usize>j << 2), s);
  }
}

/**
 * Forward of one NGCF layer: Z = P W1 + Q W2 + b1 + b2, H = LeakyReLU(Z) * mask (message
 * dropout; mask == 0 means none), O = H / ||H|| written at row stride oStride (the layer's
 * slice of the concatenated output). scratch holds 2 d floats for this thread.
 */
export function ngcfForward(x: usize, s: usize, w1: usize, w2: usize, b1: usize, b2: usize, mask: usize,
  z: usize, h: usize, o: usize, oStride: i32, r0: i32, r1: i32, d: i32, slope: f32, scratch: usize): void {
  const p = scratch;
  const q = scratch + (<usize>d << 2);
  for (let r = r0; r < r1; r++) {
    const row = <usize>r * d * 4;
    for (let c = 0; c < d; c++) {
      const xc = load<f32>(x + row + (<usize>c << 2));
      const sc = load<f32>(s + row + (<usize>c << 2));
      store<f32>(p + (<usize>c << 2), xc + sc);
      store<f32>(q + (<usize>c << 2), xc * sc);
    }
    const zr = z + row;
    vecTimesMatrix(p, w1, zr, d, false);
    vecTimesMatrix(q, w2, zr, d, true);
    let norm: f64 = 0;
    for (let c = 0; c < d; c++) {
      const zc = load<f32>(zr + (<usize>c << 2)) + load<f32>(b1 + (<usize>c << 2)) + load<f32>(b2 + (<usize>c << 2));
      store<f32>(zr + (<usize>c << 2), zc);
      let hc: f32 = zc > 0 ? zc : slope * zc;
      if (mask != 0) hc *= load<f32>(mask + row + (<usize>c << 2));
      store<f32>(h + row + (<usize>c << 2), hc);
      norm += <f64>hc * <f64>hc;
    }
    const inv: f32 = norm > 0 ? <f32>(1.0 / Math.sqrt(norm)) : 0;
    const orow = o + <usize>r * oStride * 4;
    for (let c = 0; c < d; c++) store<f32>(orow + (<usize>c << 2), load<f32>(h + row + (<usize>c << 2)) * inv);
  }
}

/**
 * Backward of one NGCF layer for rows r0..r1. Inputs: dO (gradient of the normalized output,
 * row stride oStride) and dY (gradient of H from the next layer; 0 if none). Writes
 * dZ, U = dZ W1^T + (dZ W2^T) * X (to be propagated by A_hat) and
 * dX = dZ W1^T + (dZ W2^T) * S (the direct part of the input gradient). w1t, w2t are the
 * transposed weights. scratch holds 2 d floats for this thread.
 */
export function ngcfBackward(x: usize, s: usize, z: usize, h: usize, mask: usize, dO: usize, oStride: i32, dY: usize,
  w1t: usize, w2t: usize, dz: usize, u: usize, dx: usize, r0: i32, r1: i32, d: i32, slope: f32, scratch: usize): void {
  const a = scratch;
  const b = scratch + (<usize>d << 2);
  for (let r = r0; r < r1; r++) {
    const row = <usize>r * d * 4;
    const orow = dO + <usize>r * oStride * 4;
    let norm: f64 = 0;
    let dot: f64 = 0;
    for (let c = 0; c < d; c++) {
      const hc = <f64>load<f32>(h + row + (<usize>c << 2));
      norm += hc * hc;
      dot += hc * <f64>load<f32>(orow + (<usize>c << 2));
    }
    const n = Math.sqrt(norm);
    const inv: f64 = n > 0 ? 1.0 / n : 0;
    // d(H/|H|)/dH applied to dO: (dO - o (o . dO)) / |H| with o = H / |H|
    const k: f64 = dot * inv * inv;
    for (let c = 0; c < d; c++) {
      const off = row + (<usize>c << 2);
      let g: f64 = (<f64>load<f32>(orow + (<usize>c << 2)) - <f64>load<f32>(h + off) * k) * inv;
      if (dY != 0) g += <f64>load<f32>(dY + off);
      if (mask != 0) g *= <f64>load<f32>(mask + off);
      const zc = load<f32>(z + off);
      store<f32>(dz + off, <f32>(zc > 0 ? g : g * <f64>slope));
    }
    vecTimesMatrix(dz + row, w1t, a, d, false);
    vecTimesMatrix(dz + row, w2t, b, d, false);
    for (let c = 0; c < d; c++) {
      const off = row + (<usize>c << 2);
      const ac = load<f32>(a + (<usize>c << 2));
      const bc = load<f32>(b + (<usize>c << 2));
      store<f32>(u + off, ac + bc * load<f32>(x + off));
      store<f32>(dx + off, ac + bc * load<f32>(s + off));
    }
  }
}

/**
 * Weight gradients of one NGCF layer over rows r0..r1 (one thread's partial sums):
 * gw1 += P^T dZ, gw2 += Q^T dZ, gb += column sums of dZ. gw1, gw2 [d x d], gb [d].
 */
export function ngcfWeightGrad(x: usize, s: usize, dz: usize, gw1: usize, gw2: usize, gb: usize,
  r0: i32, r1: i32, d: i32): void {
  const d4 = d & ~3;
  for (let r = r0; r < r1; r++) {
    const row = <usize>r * d * 4;
    const g = dz + row;
    for (let p = 0; p < d; p++) {
      const xp = load<f32>(x + row + (<usize>p << 2));
      const sp = load<f32>(s + row + (<usize>p << 2));
      const pv = f32x4.splat(xp + sp);
      const qv = f32x4.splat(xp * sp);
      const o1 = gw1 + (<usize>p * d << 2);
      const o2 = gw2 + (<usize>p * d << 2);
      let j = 0;
      for (; j < d4; j += 4) {
        const gj = v128.load(g + (<usize>j << 2));
        v128.store(o1 + (<usize>j << 2), madd(pv, gj, v128.load(o1 + (<usize>j << 2))));
        v128.store(o2 + (<usize>j << 2), madd(qv, gj, v128.load(o2 + (<usize>j << 2))));
      }
      for (; j < d; j++) {
        const gj = load<f32>(g + (<usize>j << 2));
        store<f32>(o1 + (<usize>j << 2), load<f32>(o1 + (<usize>j << 2)) + (xp + sp) * gj);
        store<f32>(o2 + (<usize>j << 2), load<f32>(o2 + (<usize>j << 2)) + xp * sp * gj);
      }
    }
    for (let c = 0; c < d; c++) store<f32>(gb + (<usize>c << 2), load<f32>(gb + (<usize>c << 2)) + load<f32>(g + (<usize>c << 2)));
  }
}

// @ts-ignore: decorator
@inline
function hash01(seed: u32, i: u32): f32 {
  // a counter-based hash, so a mask does not depend on how rows are split across threads
  let z: u32 = seed ^ (i * 0x9e3779b9);
  z = (z ^ (z >>> 16)) * 0x85ebca6b;
  z = (z ^ (z >>> 13)) * 0xc2b2ae35;
  z ^= z >>> 16;
  return <f32>(<f64>z / 4294967296.0);
}

/** mask[i] = 0 with probability p, else 1 / (1 - p), for i in i0..i1. */
export function dropoutMask(mask: usize, i0: i32, i1: i32, p: f32, seed: u32): void {
  const keep: f32 = 1 / (1 - p);
  for (let i = i0; i < i1; i++) store<f32>(mask + (<usize>i << 2), hash01(seed, <u32>i) < p ? 0 : keep);
}

/**
 * dst[r][c] (+)= src[r][srcOff + c] for rows r0..r1, c < width (strides and offsets in floats):
 * moves one layer's slice between a concatenated matrix and a plain one.
 */
export function copyColumns(src: usize, srcStride: i32, srcOff: i32, dst: usize, dstStride: i32,
  r0: i32, r1: i32, width: i32, accumulate: i32): void {
  for (let r = r0; r < r1; r++) {
    const from = src + ((<usize>r * srcStride + srcOff) << 2);
    const to = dst + (<usize>r * dstStride << 2);
    if (accumulate == 0) { memory.copy(to, from, <usize>width << 2); continue; }
    for (let c = 0; c < width; c++) store<f32>(to + (<usize>c << 2), load<f32>(to + (<usize>c << 2)) + load<f32>(from + (<usize>c << 2)));
  }
}

// ---------------------------------------------------------------------------------------
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
