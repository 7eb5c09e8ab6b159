// NGCF's layer kernels, dropout masks and column copies.
// Part of the kernels module (index: kernels.ts); pointers are byte offsets into the one
// imported linear memory, and the host passes every buffer.
import { madd } from "./simd";

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
