// WGSL compute shaders of the GPU backend. Every kernel runs one invocation per output value
// (or per triple), 256 to a workgroup, over a 2-D grid of workgroups (a dimension holds at most
// 65,535), so `index()` turns the grid back into one position. No kernel uses atomics: the BPR
// and L2 gradients are gathered per destination row from a list sorted by row on the host.

export const WORKGROUP = 256;

/** The score masked items get: the lowest finite f32 (WGSL has no infinity literal). */
const MASKED = -3.4028234663852886e38;

const INDEX = /* wgsl */ `
fn index(g: vec3u, n: vec3u) -> u32 { return g.x + g.y * n.x * ${WORKGROUP}u; }
`;

const ENTRY = `@compute @workgroup_size(${WORKGROUP}) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u)`;

/**
 * Propagation in two balanced passes, so a row of 80,000 nonzeros (a popular movie) costs no
 * more wall time than any other: each row's nonzeros are cut into chunks of at most a few
 * hundred, pass 1 sums each chunk into `partial` (one invocation per chunk and column group),
 * pass 2 adds up a row's chunks and writes dst and/or acc. `width` 4 moves vec4s (widths that
 * are multiples of 4); `width` 1 any width. No atomics: every output has one writer.
 */
export function propagateChunksShader(width: 1 | 4): string {
  const T = width === 4 ? "vec4<f32>" : "f32";
  return /* wgsl */ `${INDEX}
struct P { chunks: u32, groups: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> chunkStart: array<u32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read> values: array<f32>;
@group(0) @binding(4) var<storage, read> src: array<${T}>;
@group(0) @binding(5) var<storage, read_write> partial: array<${T}>;
${ENTRY} {
  let i = index(g, n);
  if (i >= p.chunks * p.groups) { return; }
  let k = i / p.groups;
  let c = i % p.groups;
  var s = ${T}(0.0);
  for (var q = chunkStart[k]; q < chunkStart[k + 1u]; q++) {
    s += values[q] * src[indices[q] * p.groups + c];
  }
  partial[i] = s;
}`;
}

export function propagateRowsShader(width: 1 | 4): string {
  const T = width === 4 ? "vec4<f32>" : "f32";
  return /* wgsl */ `${INDEX}
struct P { rows: u32, groups: u32, writeDst: u32, accumulate: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> rowChunks: array<u32>;
@group(0) @binding(2) var<storage, read> partial: array<${T}>;
@group(0) @binding(3) var<storage, read_write> dst: array<${T}>;
@group(0) @binding(4) var<storage, read_write> acc: array<${T}>;
${ENTRY} {
  let i = index(g, n);
  if (i >= p.rows * p.groups) { return; }
  let r = i / p.groups;
  let c = i % p.groups;
  var s = ${T}(0.0);
  for (var k = rowChunks[r]; k < rowChunks[r + 1u]; k++) { s += partial[k * p.groups + c]; }
  if (p.writeDst != 0u) { dst[i] = s; }
  if (p.accumulate != 0u) { acc[i] += s; }
}`;
}

/**
 * Per triple: x = s^2 (u.p - u.n) of F = s * emb; loss softplus(-x); coef = -sigmoid(-x) *
 * gradScale * s (the factor each gathered row is multiplied by).
 */
export const BPR_COEF = /* wgsl */ `${INDEX}
struct P { count: u32, d: u32, embScale: f32, gradScale: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> users: array<u32>;
@group(0) @binding(2) var<storage, read> pos: array<u32>;
@group(0) @binding(3) var<storage, read> neg: array<u32>;
@group(0) @binding(4) var<storage, read> emb: array<f32>;
@group(0) @binding(5) var<storage, read_write> coef: array<f32>;
@group(0) @binding(6) var<storage, read_write> loss: array<f32>;
${ENTRY} {
  let t = index(g, n);
  if (t >= p.count) { return; }
  let u = users[t] * p.d;
  let a = pos[t] * p.d;
  let b = neg[t] * p.d;
  var up = 0.0;
  var un = 0.0;
  for (var c = 0u; c < p.d; c++) {
    up += emb[u + c] * emb[a + c];
    un += emb[u + c] * emb[b + c];
  }
  let x = p.embScale * p.embScale * (up - un);
  loss[t] = max(-x, 0.0) + log(1.0 + exp(-abs(x)));
  let sig = 1.0 / (1.0 + exp(clamp(x, -80.0, 80.0)));
  coef[t] = -sig * p.gradScale * p.embScale;
}`;

/**
 * grad[row] += the BPR terms of every triple naming the row, gathered per (row, column):
 * entries[start[r]..start[r+1]] are 3 t + role (0 user, 1 positive, 2 negative).
 */
export const BPR_GATHER = /* wgsl */ `${INDEX}
struct P { rows: u32, d: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> uniq: array<u32>;
@group(0) @binding(2) var<storage, read> start: array<u32>;
@group(0) @binding(3) var<storage, read> entries: array<u32>;
@group(0) @binding(4) var<storage, read> users: array<u32>;
@group(0) @binding(5) var<storage, read> pos: array<u32>;
@group(0) @binding(6) var<storage, read> neg: array<u32>;
@group(0) @binding(7) var<storage, read> coef: array<f32>;
@group(0) @binding(8) var<storage, read> emb: array<f32>;
@group(0) @binding(9) var<storage, read_write> grad: array<f32>;
${ENTRY} {
  let i = index(g, n);
  if (i >= p.rows * p.d) { return; }
  let r = i / p.d;
  let c = i % p.d;
  var s = 0.0;
  for (var e = start[r]; e < start[r + 1u]; e++) {
    let entry = entries[e];
    let t = entry / 3u;
    let role = entry % 3u;
    let k = coef[t];
    if (role == 0u) {
      s += k * emb[pos[t] * p.d + c];
      s -= k * emb[neg[t] * p.d + c];
    } else if (role == 1u) {
      s += k * emb[users[t] * p.d + c];
    } else {
      s -= k * emb[users[t] * p.d + c];
    }
  }
  grad[uniq[r] * p.d + c] += s;
}`;

/** Per triple: the squared norms of its three rows of param. */
export const L2_SQUARES = /* wgsl */ `${INDEX}
struct P { count: u32, d: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> users: array<u32>;
@group(0) @binding(2) var<storage, read> pos: array<u32>;
@group(0) @binding(3) var<storage, read> neg: array<u32>;
@group(0) @binding(4) var<storage, read> param: array<f32>;
@group(0) @binding(5) var<storage, read_write> squares: array<f32>;
${ENTRY} {
  let t = index(g, n);
  if (t >= p.count) { return; }
  var s = 0.0;
  for (var c = 0u; c < p.d; c++) {
    let u = param[users[t] * p.d + c];
    let a = param[pos[t] * p.d + c];
    let b = param[neg[t] * p.d + c];
    s += u * u + a * a + b * b;
  }
  squares[t] = s;
}`;

/** grad[row] += (times the row is named) * coef * param[row], per (row, column). */
export const L2_GATHER = /* wgsl */ `${INDEX}
struct P { rows: u32, d: u32, coef: f32, pad: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> uniq: array<u32>;
@group(0) @binding(2) var<storage, read> start: array<u32>;
@group(0) @binding(3) var<storage, read> param: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;
${ENTRY} {
  let i = index(g, n);
  if (i >= p.rows * p.d) { return; }
  let r = i / p.d;
  let at = uniq[r] * p.d + i % p.d;
  grad[at] += f32(start[r + 1u] - start[r]) * p.coef * param[at];
}`;

/** sums[slot] += sum of values[0..count), in one workgroup (a tree in shared memory). */
export const REDUCE = /* wgsl */ `
struct P { count: u32, slot: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> values: array<f32>;
@group(0) @binding(2) var<storage, read_write> sums: array<f32>;
var<workgroup> part: array<f32, ${WORKGROUP}>;
@compute @workgroup_size(${WORKGROUP}) fn main(@builtin(local_invocation_index) l: u32) {
  var s = 0.0;
  for (var i = l; i < p.count; i += ${WORKGROUP}u) { s += values[i]; }
  part[l] = s;
  workgroupBarrier();
  for (var w = ${WORKGROUP / 2}u; w > 0u; w >>= 1u) {
    if (l < w) { part[l] += part[l + w]; }
    workgroupBarrier();
  }
  if (l == 0u) { sums[p.slot] += part[0]; }
}`;

/** One Adam step over every value, as the CPU kernel computes it. */
export const ADAM = /* wgsl */ `${INDEX}
struct P { n: u32, gradScale: f32, lr: f32, b1: f32, b2: f32, eps: f32, bc1: f32, bc2: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
${ENTRY} {
  let i = index(g, n);
  if (i >= p.n) { return; }
  let gi = grad[i] * p.gradScale;
  let mm = p.b1 * m[i] + (1.0 - p.b1) * gi;
  let vv = p.b2 * v[i] + (1.0 - p.b2) * gi * gi;
  m[i] = mm;
  v[i] = vv;
  param[i] = param[i] - (p.lr / p.bc1) * mm / (sqrt(vv / p.bc2) + p.eps);
}`;

export const SCALE = /* wgsl */ `${INDEX}
struct P { n: u32, factor: f32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
${ENTRY} {
  let i = index(g, n);
  if (i >= p.n) { return; }
  x[i] = x[i] * p.factor;
}`;

/** scores[b x items] = emb[users[b]] . emb[itemFrom + i], one invocation per (user, item). */
export const SCORES = /* wgsl */ `${INDEX}
struct P { batch: u32, items: u32, d: u32, itemFrom: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> users: array<u32>;
@group(0) @binding(2) var<storage, read> emb: array<f32>;
@group(0) @binding(3) var<storage, read_write> scores: array<f32>;
${ENTRY} {
  let k = index(g, n);
  if (k >= p.batch * p.items) { return; }
  let b = k / p.items;
  let i = k % p.items;
  let u = users[b] * p.d;
  let it = (p.itemFrom + i) * p.d;
  var s = 0.0;
  for (var c = 0u; c < p.d; c++) { s += emb[u + c] * emb[it + c]; }
  scores[k] = s;
}`;

/** Hides each user's excluded items (their scores become MASKED), one invocation per user. */
export const MASK = /* wgsl */ `${INDEX}
struct P { batch: u32, items: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> indptr: array<u32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read_write> scores: array<f32>;
${ENTRY} {
  let b = index(g, n);
  if (b >= p.batch) { return; }
  for (var q = indptr[b]; q < indptr[b + 1u]; q++) { scores[b * p.items + indices[q]] = ${MASKED}; }
}`;

/**
 * The k best items of each user's score row, one workgroup per user: each invocation keeps a
 * sorted list of the best k among the items it strides over, then k rounds of a tree
 * reduction pick the best head among the lists (ties to the smaller item index). Masked and
 * NaN scores are never selected; out is padded with -1.
 */
export function topKShader(k: number): string {
  return /* wgsl */ `
const K: u32 = ${k}u;
const NONE: u32 = 0xffffffffu;
struct P { items: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;
var<workgroup> bestValue: array<f32, ${WORKGROUP}>;
var<workgroup> bestItem: array<u32, ${WORKGROUP}>;
var<workgroup> bestLane: array<u32, ${WORKGROUP}>;

fn better(av: f32, ai: u32, bv: f32, bi: u32) -> bool {
  return av > bv || (av == bv && ai < bi);
}

@compute @workgroup_size(${WORKGROUP}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) l: u32) {
  let b = wg.x;
  let row = b * p.items;
  var values: array<f32, K>;
  var items: array<u32, K>;
  var count = 0u;
  for (var i = l; i < p.items; i += ${WORKGROUP}u) {
    let s = scores[row + i];
    if (!(s > ${MASKED})) { continue; }
    if (count == K && !(s > values[K - 1u])) { continue; }
    var at = select(count, K - 1u, count == K);
    while (at > 0u && values[at - 1u] < s) {
      values[at] = values[at - 1u];
      items[at] = items[at - 1u];
      at--;
    }
    values[at] = s;
    items[at] = i;
    if (count < K) { count++; }
  }
  var head = 0u;
  for (var r = 0u; r < K; r++) {
    if (head < count) {
      bestValue[l] = values[head];
      bestItem[l] = items[head];
    } else {
      bestValue[l] = ${MASKED};
      bestItem[l] = NONE;
    }
    bestLane[l] = l;
    workgroupBarrier();
    for (var w = ${WORKGROUP / 2}u; w > 0u; w >>= 1u) {
      if (l < w && better(bestValue[l + w], bestItem[l + w], bestValue[l], bestItem[l]) && bestItem[l + w] != NONE) {
        bestValue[l] = bestValue[l + w];
        bestItem[l] = bestItem[l + w];
        bestLane[l] = bestLane[l + w];
      }
      workgroupBarrier();
    }
    let winner = bestItem[0];
    let lane = bestLane[0];
    workgroupBarrier();
    if (l == 0u) { out[b * K + r] = select(-1, i32(winner), winner != NONE); }
    if (winner != NONE && l == lane) { head++; }
  }
}`;
}
