// The CPU backend: GraphBackend and DenseBackend over the WebAssembly SIMD kernels, on a pool
// of threads that share one linear memory. Tensors are arena Blocks; ops run at once, on the
// calling thread and the pool's workers, so the Promise-returning calls are already settled when
// they return.
import type {
  AdamSettings,
  BiasedFactorTensors,
  DenseBackend,
  GraphBackend,
  HostArray,
  LossSums,
  NgcfKernels,
  Propagation,
  RatingTensors,
  SparseRows,
  SparseTensor,
  Tensor,
  TensorKind,
  Triples,
} from "../backend.ts";
import { topK as selectTopK } from "../../util/topk.ts";
import { GraphOps, type TripleBlocks } from "./graph-ops.ts";
import { FactorOps } from "./factor-ops.ts";
import { NgcfOps } from "./ngcf-ops.ts";
import { Block, type CsrBlock, type Engine, engine as sharedEngine } from "./kernels.ts";
import { DEFAULT_TILE_BYTES, type PropagationPlan, columnBlocks, planPropagation } from "./propagation-plan.ts";

/** Users scored per kernel call during evaluation (bounds the score buffer). */
const SCORE_BATCH = 256;

class WasmTriples implements Triples, TripleBlocks {
  count = 0;
  readonly users: Block<"i32">;
  readonly pos: Block<"i32">;
  readonly neg: Block<"i32">;

  constructor(
    engine: Engine,
    readonly capacity: number,
  ) {
    this.users = engine.alloc("i32", capacity);
    this.pos = engine.alloc("i32", capacity);
    this.neg = engine.alloc("i32", capacity);
  }
}

/** A sparse pattern in kernel memory. */
class WasmSparse implements SparseTensor {
  constructor(readonly csr: CsrBlock) {}

  get rows(): number {
    return this.csr.rows;
  }

  get cols(): number {
    return this.csr.cols;
  }
}

export class WasmBackend implements GraphBackend, DenseBackend {
  readonly kind = "wasm" as const;
  readonly ops: GraphOps;
  /** Factor-sweep scratch per width (allocated on first use, in the scope open then). */
  private readonly factorOps = new Map<number, FactorOps>();
  private bprSum = 0;
  private squaredSum = 0;

  constructor(
    readonly engine: Engine,
    readonly threads: number,
  ) {
    this.ops = new GraphOps(engine, threads);
  }

  /** A pool of `threads` threads over `engine` (by default the process's kernel memory). */
  static create(threads: number, engine: Engine = sharedEngine()): WasmBackend {
    return new WasmBackend(engine, threads);
  }

  get description(): string {
    return `WebAssembly SIMD on ${this.threads} CPU thread(s)`;
  }

  /** The kernel block behind a (float32, for the graph ops) tensor of this backend. */
  block(t: Tensor): Block<"f32"> {
    return this.typed(t as Tensor<"f32">);
  }

  /** The kernel block behind a tensor of this backend, of the tensor's kind. */
  typed<K extends TensorKind>(t: Tensor<K>): Block<K> {
    if (!(t instanceof Block)) throw new TypeError("tensor was not made by the CPU backend");
    return t as Block<K>;
  }

  private csr(m: SparseTensor): CsrBlock {
    if (!(m instanceof WasmSparse)) throw new TypeError("sparse matrix was not made by the CPU backend");
    return m.csr;
  }

  private tripleBlocks(t: Triples): WasmTriples {
    if (!(t instanceof WasmTriples)) throw new TypeError("triples were not made by the CPU backend");
    return t;
  }

  zeros<K extends TensorKind>(kind: K, length: number): Tensor<K> {
    return this.engine.alloc(kind, length);
  }

  upload(data: Float64Array): Tensor<"f64">;
  upload(data: Float32Array): Tensor<"f32">;
  upload(data: Int32Array): Tensor<"i32">;
  upload(data: Float32Array | Int32Array): Tensor;
  upload(data: Float64Array | Float32Array | Int32Array): Tensor {
    const kind = data instanceof Int32Array ? "i32" : data instanceof Float64Array ? "f64" : "f32";
    const b = this.engine.alloc(kind, data.length);
    (b.view() as Float64Array).set(data);
    return b;
  }

  write(t: Tensor, data: ArrayLike<number>): void {
    if (data.length !== t.length) throw new RangeError(`write: ${data.length} values into a tensor of ${t.length}`);
    (this.block(t).view() as Float32Array).set(data);
  }

  read<K extends TensorKind>(t: Tensor<K>, offset = 0, length = t.length - offset): HostArray<K> {
    if (offset < 0 || length < 0 || offset + length > t.length) throw new RangeError(`read ${offset}+${length} outside a tensor of ${t.length}`);
    return this.typed(t)
      .view()
      .slice(offset, offset + length) as HostArray<K>;
  }

  async download(t: Tensor): Promise<Float32Array> {
    return Float32Array.from(this.block(t).view());
  }

  async settle(): Promise<void> {
    await new Promise((r) => setImmediate(r));
  }

  openScope(): () => void {
    const mark = this.engine.mark();
    return () => this.engine.release(mark);
  }

  copy(src: Tensor, dst: Tensor): void {
    if (src.length !== dst.length) throw new RangeError(`copy: ${src.length} values into a tensor of ${dst.length}`);
    this.block(dst).view().set(this.block(src).view());
  }

  fill(t: Tensor, value: number): void {
    this.block(t).view().fill(value);
  }

  scale(t: Tensor, factor: number): void {
    const v = this.block(t).view();
    for (let i = 0; i < v.length; i++) v[i] *= factor;
  }

  propagation(a: SparseRows & { values: Float32Array }, dim: number, groups: readonly number[]): Propagation {
    const blockRows = Math.max(1, Math.floor(DEFAULT_TILE_BYTES / (dim * 4)));
    return planPropagation(this.engine, a, this.threads, columnBlocks(groups, blockRows));
  }

  propagate(a: Propagation, src: Tensor, dst: Tensor | null, acc: Tensor | null, d: number): void {
    this.ops.propagate(a as PropagationPlan, this.block(src), dst && this.block(dst), acc && this.block(acc), d);
  }

  triples(capacity: number): Triples {
    return new WasmTriples(this.engine, capacity);
  }

  setTriples(t: Triples, users: Int32Array, pos: Int32Array, neg: Int32Array, count: number): void {
    const b = this.tripleBlocks(t);
    if (count > b.capacity) throw new RangeError(`${count} triples into a batch of ${b.capacity}`);
    b.users.view().set(users.subarray(0, count));
    b.pos.view().set(pos.subarray(0, count));
    b.neg.view().set(neg.subarray(0, count));
    b.count = count;
  }

  bprGrad(t: Triples, emb: Tensor, embScale: number, grad: Tensor, d: number): void {
    const b = this.tripleBlocks(t);
    this.bprSum += this.ops.bprGrad(b, 0, b.count, this.block(emb), embScale, this.block(grad), d, b.count);
  }

  l2Grad(t: Triples, param: Tensor, grad: Tensor, d: number, coef: number): void {
    const b = this.tripleBlocks(t);
    this.squaredSum += this.ops.l2Grad(b, 0, b.count, this.block(param), this.block(grad), d, coef);
  }

  async takeLosses(): Promise<LossSums> {
    const sums = { bpr: this.bprSum, squaredNorms: this.squaredSum };
    this.bprSum = 0;
    this.squaredSum = 0;
    return sums;
  }

  adam(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, step: number, gradScale: number, s: AdamSettings): void {
    this.ops.adam(this.block(param), this.block(grad), this.block(m), this.block(v), step, gradScale, s);
  }

  async topK(emb: Tensor, d: number, itemFrom: number, items: number, users: Int32Array, exclude: SparseRows, k: number): Promise<Int32Array> {
    if (exclude.rows !== users.length) throw new RangeError(`topK: ${exclude.rows} exclude rows for ${users.length} users`);
    const all = this.block(emb);
    const itemRows = all.slice(itemFrom * d, items * d);
    const out = new Int32Array(users.length * k).fill(-1);
    const ranked = new Int32Array(k);
    const best = new Float64Array(k);
    const close = this.openScope();
    try {
      const scores = this.engine.alloc("f32", Math.min(SCORE_BATCH, users.length) * items);
      // contiguous runs of users are scored together (full ranking walks every user in order)
      for (let start = 0; start < users.length; ) {
        let end = start + 1;
        while (end < users.length && end - start < SCORE_BATCH && users[end] === users[end - 1] + 1) end++;
        this.ops.dotScores(all, itemRows, items, d, users[start], users[end - 1] + 1, scores);
        const view = scores.view();
        for (let r = start; r < end; r++) {
          const offset = (r - start) * items;
          for (let p = exclude.indptr[r]; p < exclude.indptr[r + 1]; p++) view[offset + exclude.indices[p]] = Number.NEGATIVE_INFINITY;
          const count = selectTopK(view, offset, items, k, ranked, best);
          out.set(ranked.subarray(0, count), r * k);
        }
        start = end;
      }
    } finally {
      close();
    }
    return out;
  }

  sparse(m: SparseRows): SparseTensor {
    return new WasmSparse(this.engine.csr(m));
  }

  gramBinary(x: SparseTensor): Tensor<"f64"> {
    return this.engine.gramBinary(this.csr(x));
  }

  addToDiagonal(a: Tensor<"f64">, n: number, value: number): void {
    checkSquare("addToDiagonal", a, n);
    this.engine.k.addDiagonalF64(this.typed(a).ptr, n, value);
  }

  invertSpd(a: Tensor<"f64">, n: number): void {
    this.engine.invertSpd(this.typed(a), n);
  }

  gemm(m: number, n: number, k: number, a: Tensor<"f64">, b: Tensor<"f64">, c: Tensor<"f64">): void {
    this.engine.gemm({ m, n, k, a: this.typed(a), b: this.typed(b), c: this.typed(c) });
  }

  spmm(x: SparseTensor, r0: number, r1: number, dense: Tensor<"f32">, d: number, out: Tensor<"f32">): void {
    this.engine.spmm(this.csr(x), r0, r1, this.typed(dense), d, this.typed(out));
  }

  easeWeights(inverse: Tensor<"f64">, weights: Tensor<"f32">, n: number): void {
    checkSquare("easeWeights inverse", inverse, n);
    checkSquare("easeWeights weights", weights, n);
    this.engine.k.easeWeightsF32(this.typed(inverse).ptr, this.typed(weights).ptr, n);
  }

  itemKnnWeights(gram: Tensor<"f64">, weights: Tensor<"f32">, n: number, k: number, shrink: number): void {
    checkSquare("itemKnnWeights gram", gram, n);
    checkSquare("itemKnnWeights weights", weights, n);
    const close = this.openScope();
    try {
      const scratch = this.engine.alloc("f64", Math.ceil(this.engine.k.itemKnnScratchBytes(n, k) / 8));
      this.engine.k.itemKnnWeights(this.typed(gram).ptr, this.typed(weights).ptr, n, k, shrink, scratch.ptr);
    } finally {
      close();
    }
  }

  private factors(d: number): FactorOps {
    let f = this.factorOps.get(d);
    if (!f) {
      f = new FactorOps(this.engine, this.ops.pool, d);
      this.factorOps.set(d, f);
    }
    return f;
  }

  alsHalfSweep(m: SparseTensor, y: Tensor<"f32">, x: Tensor<"f32">, d: number, alpha: number, lambda: number): void {
    this.factors(d).alsHalfSweep(this.csr(m), this.typed(y), this.typed(x), alpha, lambda);
  }

  sgdEpoch(ratings: RatingTensors, factors: BiasedFactorTensors, d: number, mu: number, lr: number, reg: number): number {
    const t = { users: this.typed(ratings.users), items: this.typed(ratings.items), values: this.typed(ratings.values), order: this.typed(ratings.order) };
    const f = { p: this.typed(factors.p), q: this.typed(factors.q), bu: this.typed(factors.bu), bi: this.typed(factors.bi) };
    return this.factors(d).sgdEpoch(t, f, mu, lr, reg);
  }

  dotScores(users: Tensor<"f32">, items: Tensor<"f32">, nItems: number, d: number, u0: number, u1: number, out: Tensor<"f32">): void {
    this.ops.dotScores(this.typed(users), this.typed(items), nItems, d, u0, u1, this.typed(out));
  }

  ngcfKernels(rows: number, d: number, slope: number): NgcfKernels {
    return new NgcfOps(this.ops, rows, d, slope);
  }

  async close(): Promise<void> {
    await this.ops.pool.close();
  }
}

function checkSquare(what: string, t: Tensor, n: number): void {
  if (t.length !== n * n) throw new RangeError(`${what}: ${t.length} values, expected ${n} x ${n}`);
}
