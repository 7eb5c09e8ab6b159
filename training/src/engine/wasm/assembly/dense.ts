// Dense f64 kernels for EASE and PureSVD: blocked GEMM and the SPD inverse.
// Part of the kernels module (index: kernels.ts); pointers are byte offsets into the one
// imported linear memory, and the host passes every buffer.

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
