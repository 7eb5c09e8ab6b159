// Graph-model kernels (LightGCN, BPR-MF): propagation, BPR and L2 gradients, Adam, scores.
// Part of the kernels module (index: kernels.ts); pointers are byte offsets into the one
// imported linear memory, and the host passes every buffer.
import { madd, dotRows, axpy } from "./simd";

// Graph-model kernels (LightGCN, BPR-MF): f32 embeddings, row-major [rows x d].

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
