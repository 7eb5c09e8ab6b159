// The one interface graph models train through, whatever runs the math: the WebAssembly SIMD
// kernels on CPU threads (wasm/) or WGSL compute shaders through WebGPU (webgpu/), as the
// `implicit` library splits cpu/ and gpu/. Models hold Tensor handles and never see a backend's
// memory; values cross to the host only through upload, write and download. Ops are recorded in
// order; a backend may run them later (a GPU queue), so only the Promise-returning calls wait.

export type TensorKind = "f32" | "i32" | "f64";

/** A backend-owned array of `length` values; its storage is the backend's business. */
export interface Tensor<K extends TensorKind = TensorKind> {
  readonly kind: K;
  readonly length: number;
}

/** The host array of a tensor kind. */
export type HostArray<K extends TensorKind> = K extends "f64" ? Float64Array : K extends "f32" ? Float32Array : Int32Array;

/** A sparse matrix in CSR form (what the engine takes; it knows no protocol types). */
export interface SparseRows {
  rows: number;
  cols: number;
  indptr: Int32Array;
  indices: Int32Array;
  values?: Float32Array | null;
}

/** A square sparse matrix prepared for repeated multiplication with [rows x d] tensors. */
export interface Propagation {
  readonly rows: number;
}

/** A batch of BPR triples (user, positive item, negative item) as node ids, on the backend. */
export interface Triples {
  readonly capacity: number;
  /** How many triples the last `setTriples` wrote. */
  readonly count: number;
}

export interface AdamSettings {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

/** Epoch sums of the training losses, accumulated on the backend since the last `takeLosses`. */
export interface LossSums {
  /** Sum over triples of softplus(-(s_up - s_un)). */
  bpr: number;
  /** Sum over triples of the squared norms of the user, positive and negative ego rows. */
  squaredNorms: number;
}

export interface GraphBackend {
  readonly kind: "wasm" | "webgpu";
  /** What runs the math, in words: threads, or the adapter's name. */
  readonly description: string;

  zeros(kind: TensorKind, length: number): Tensor;
  upload(data: Float32Array | Int32Array): Tensor;
  /** Overwrites a tensor with `data` (same length). */
  write(t: Tensor, data: Float32Array | Int32Array): void;
  /** A host copy of the tensor, once every op before it has run. */
  download(t: Tensor): Promise<Float32Array>;
  /** Waits until every recorded op has run (lets the event loop turn; bounds a GPU's queue). */
  settle(): Promise<void>;
  /** Starts a scope: the returned function frees every tensor allocated since (last in, first out). */
  openScope(): () => void;

  copy(src: Tensor, dst: Tensor): void;
  fill(t: Tensor, value: number): void;
  scale(t: Tensor, factor: number): void;

  /**
   * Prepares A for `propagate` on [rows x dim] tensors. `groups` are the sizes of the node
   * groups A's columns fall in (users, then items): the CPU backend tiles each separately.
   */
  propagation(a: SparseRows & { values: Float32Array }, dim: number, groups: readonly number[]): Propagation;
  /** dst = A src (unless dst is null) and acc += A src (unless acc is null); all [rows x d]. */
  propagate(a: Propagation, src: Tensor, dst: Tensor | null, acc: Tensor | null, d: number): void;

  triples(capacity: number): Triples;
  setTriples(t: Triples, users: Int32Array, pos: Int32Array, neg: Int32Array, count: number): void;
  /**
   * grad += dLoss/dF of the mean BPR loss over the triples, where F = embScale * emb ([nodes x
   * d]); the loss sum is added to the backend's epoch sums.
   */
  bprGrad(t: Triples, emb: Tensor, embScale: number, grad: Tensor, d: number): void;
  /** grad[row] += coef * param[row] for every row named by the triples; their squared norms join the sums. */
  l2Grad(t: Triples, param: Tensor, grad: Tensor, d: number, coef: number): void;
  takeLosses(): Promise<LossSums>;
  /** One Adam step (counted from 1) with gradient gradScale * grad. */
  adam(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, step: number, gradScale: number, s: AdamSettings): void;

  /**
   * Full ranking for evaluation: for each of `users` (row indices of emb [* x d]), scores every
   * item (rows itemFrom..itemFrom+items of emb) by dot product, hides the items of the user's
   * row of `exclude` (rows aligned with `users`), and returns the k best item indices per user,
   * best first, ties to the smaller index, padded with -1 when fewer are selectable.
   */
  topK(emb: Tensor, d: number, itemFrom: number, items: number, users: Int32Array, exclude: SparseRows, k: number): Promise<Int32Array>;

  /**
   * NGCF's dense per-row kernels over [rows x d] tensors with LeakyReLU slope `slope`, allocated
   * in the scope open now. The CPU backend has them; others throw (NGCF trains on the CPU only).
   */
  ngcfKernels(rows: number, d: number, slope: number): NgcfKernels;

  close(): Promise<void>;
}

/** Tensors of one NGCF layer, all [rows x d] except the d x d weights and d biases. */
export interface NgcfLayerTensors {
  x: Tensor;
  s: Tensor;
  z: Tensor;
  h: Tensor;
  mask: Tensor | null;
  w1: Tensor;
  w2: Tensor;
  b1: Tensor;
  b2: Tensor;
}

/** NGCF's dense per-row work (see models/graph/ngcf-core.ts for the math). */
export interface NgcfKernels {
  /** Writes Z, H and the normalized output O (at column `outOffset` of out, row stride outStride). */
  forward(l: NgcfLayerTensors, out: Tensor, outStride: number, outOffset: number): void;
  /** dZ, U and the direct part of dX from dO (slice of dOut) and dY (gradient of H, or null). */
  backward(
    l: NgcfLayerTensors,
    dOut: Tensor,
    outStride: number,
    outOffset: number,
    dY: Tensor | null,
    w1t: Tensor,
    w2t: Tensor,
    dz: Tensor,
    u: Tensor,
    dx: Tensor,
  ): void;
  /** gw1 = P^T dZ, gw2 = Q^T dZ, gb = column sums of dZ (overwritten). */
  weightGrad(l: NgcfLayerTensors, dz: Tensor, gw1: Tensor, gw2: Tensor, gb: Tensor): void;
  /** Fills a dropout mask (0, or 1 / (1 - p)) from `seed`. */
  dropoutMask(mask: Tensor, p: number, seed: number): void;
  /** dst (+)= columns srcOffset..srcOffset+width of src (row strides in floats). */
  copyColumns(src: Tensor, srcStride: number, srcOffset: number, dst: Tensor, dstStride: number, width: number, accumulate: boolean): void;
  /** out = w^T for d x d weights. */
  transpose(w: Tensor, out: Tensor, d: number): void;
}

/** Explicit ratings for SGD: user, item and value of each, and the order an epoch visits them in. */
export interface RatingTensors {
  users: Tensor<"i32">;
  items: Tensor<"i32">;
  values: Tensor<"f32">;
  order: Tensor<"i32">;
}

/** Biased matrix factorization: user and item factors [* x d] and biases. */
export interface BiasedFactorTensors {
  p: Tensor<"f32">;
  q: Tensor<"f32">;
  bu: Tensor<"f32">;
  bi: Tensor<"f32">;
}

/** Throws unless every given tensor holds `size` values (null ones are absent, not checked). */
export function checkSizes(op: string, size: number, tensors: Record<string, Tensor | null>): void {
  for (const [what, t] of Object.entries(tensors)) {
    if (t && t.length !== size) throw new RangeError(`${op} ${what}: ${t.length} values, expected ${size}`);
  }
}

/** A sparse matrix uploaded to a backend. */
export interface SparseTensor {
  readonly rows: number;
  readonly cols: number;
}

/**
 * The dense and factor ops of the models that train on the CPU only (EASE, ItemKNN, PureSVD,
 * iALS, SVD): f64 algebra on item-item matrices, sparse products, the factor sweeps and
 * dot-product scoring. Only the CPU backend has them, and it runs every op at once, so `read`
 * answers synchronously (with a copy: models never hold a backend's memory).
 */
export interface DenseBackend {
  readonly kind: "wasm";
  zeros<K extends TensorKind>(kind: K, length: number): Tensor<K>;
  upload(data: Float64Array): Tensor<"f64">;
  upload(data: Float32Array): Tensor<"f32">;
  upload(data: Int32Array): Tensor<"i32">;
  write<K extends TensorKind>(t: Tensor<K>, data: ArrayLike<number>): void;
  /** A copy of values offset..offset+length (the whole tensor by default). */
  read<K extends TensorKind>(t: Tensor<K>, offset?: number, length?: number): HostArray<K>;
  copy(src: Tensor, dst: Tensor): void;
  openScope(): () => void;

  /** m on the backend: its pattern, and its values when it has them (spmm multiplies by them; the Gram matrix and ALS read the pattern only). */
  sparse(m: SparseRows): SparseTensor;
  /** X^T X of a binary sparse matrix: a cols x cols f64 tensor. */
  gramBinary(x: SparseTensor): Tensor<"f64">;
  addToDiagonal(a: Tensor<"f64">, n: number, value: number): void;
  /** Inverts a symmetric positive definite n x n f64 matrix in place. */
  invertSpd(a: Tensor<"f64">, n: number): void;
  /** c = a b for row-major f64 matrices (a: m x k, b: k x n). */
  gemm(m: number, n: number, k: number, a: Tensor<"f64">, b: Tensor<"f64">, c: Tensor<"f64">): void;
  /** out[(r - r0) x d] = rows r0..r1 of x times dense [cols x d]. */
  spmm(x: SparseTensor, r0: number, r1: number, dense: Tensor<"f32">, d: number, out: Tensor<"f32">): void;
  /** EASE's weights from P = (G + lambda I)^-1: -P_ij / P_jj off the diagonal, 0 on it. */
  easeWeights(inverse: Tensor<"f64">, weights: Tensor<"f32">, n: number): void;
  /** ItemKNN's weights: each item's k nearest items by shrunk cosine of the Gram matrix. */
  itemKnnWeights(gram: Tensor<"f64">, weights: Tensor<"f32">, n: number, k: number, shrink: number): void;
  /** One implicit-ALS half-sweep: every row of x solved given the fixed factors y ([m.cols x d]). */
  alsHalfSweep(m: SparseTensor, y: Tensor<"f32">, x: Tensor<"f32">, d: number, alpha: number, lambda: number): void;
  /** One biased-MF SGD epoch over the ratings in `order`; returns the summed squared error. */
  sgdEpoch(ratings: RatingTensors, factors: BiasedFactorTensors, d: number, mu: number, lr: number, reg: number): number;
  /** out[(u - u0) x nItems] = users[u] . items[i] for users u0..u1. */
  dotScores(users: Tensor<"f32">, items: Tensor<"f32">, nItems: number, d: number, u0: number, u1: number, out: Tensor<"f32">): void;
}

/**
 * The CPU kernels' linear memory, which CPU models allocate in (see create.ts): models pass it
 * along and never look inside.
 */
export interface KernelMemory {
  readonly memory: WebAssembly.Memory;
}

/** The CPU backend: the graph ops, the dense and factor ops, and NGCF's layer kernels. */
export type CpuBackend = GraphBackend & DenseBackend;

/** Which backend to train on: "cpu" (WebAssembly SIMD threads) or "gpu" (WebGPU). */
export type Device = "cpu" | "gpu";

export const DEVICES: readonly Device[] = ["cpu", "gpu"];
