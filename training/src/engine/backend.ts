// The one interface graph models train through, whatever runs the math: the WebAssembly SIMD
// kernels on CPU threads (wasm/) or WGSL compute shaders through WebGPU (webgpu/), as the
// `implicit` library splits cpu/ and gpu/. Models hold Tensor handles and never see a backend's
// memory; values cross to the host only through upload, write and download. Ops are recorded in
// order; a backend may run them later (a GPU queue), so only the Promise-returning calls wait.

export type TensorKind = "f32" | "i32";

/** A backend-owned array of `length` values; its storage is the backend's business. */
export interface Tensor {
  readonly kind: TensorKind;
  readonly length: number;
}

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

  close(): Promise<void>;
}

/** Which backend to train on: "cpu" (WebAssembly SIMD threads) or "gpu" (WebGPU). */
export type Device = "cpu" | "gpu";

export const DEVICES: readonly Device[] = ["cpu", "gpu"];
