// Typed host API over the WebAssembly SIMD kernels (assembly/kernels.ts). The host owns one
// linear memory and a bump arena in it; callers get typed views of arena blocks and pass
// blocks, never raw pointers, to the kernel functions.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { KernelExports } from "./kernel-exports.ts";
import { KernelPool } from "./pool.ts";

export type { KernelExports } from "./kernel-exports.ts";

/** The built kernels; EDGEREC_KERNELS_WASM points elsewhere (a bundled bench on another machine). */
const WASM_PATH = process.env.EDGEREC_KERNELS_WASM ?? fileURLToPath(new URL("../../../build/kernels.wasm", import.meta.url));
const PAGE = 65536;
/** The kernels keep no static data, but the first page stays reserved for the compiler's. */
const ARENA_START = PAGE;
const MAX_PAGES = 65536;

type ElementKind = "f64" | "f32" | "i32";
const BYTES: Record<ElementKind, number> = { f64: 8, f32: 4, i32: 4 };

/** A typed block of kernel memory. `view()` must be called again after any allocation. */
export class Block<K extends ElementKind = ElementKind> {
  constructor(
    private readonly engine: Engine,
    readonly kind: K,
    readonly ptr: number,
    readonly length: number,
  ) {}

  /** The block's elements offset..offset+length as a block of their own (no copy). */
  slice(offset: number, length: number): Block<K> {
    if (offset < 0 || length < 0 || offset + length > this.length) throw new RangeError(`slice ${offset}+${length} outside a block of ${this.length}`);
    return new Block(this.engine, this.kind, this.ptr + offset * BYTES[this.kind], length);
  }

  view(): K extends "f64" ? Float64Array : K extends "f32" ? Float32Array : Int32Array {
    const buf = this.engine.memory.buffer;
    const ctor = this.kind === "f64" ? Float64Array : this.kind === "f32" ? Float32Array : Int32Array;
    return new ctor(buf, this.ptr, this.length) as never;
  }
}

/** A CSR matrix copied into kernel memory. */
export interface CsrBlock {
  rows: number;
  cols: number;
  indptr: Block<"i32">;
  indices: Block<"i32">;
  values: Block<"f32"> | null;
}

export class Engine {
  readonly memory: WebAssembly.Memory;
  /** The raw kernel exports; graph-ops.ts drives them directly, on several threads. */
  readonly k: KernelExports;
  private top = ARENA_START;
  private pools = new Map<number, KernelPool>();

  private constructor(private readonly module: WebAssembly.Module) {
    this.memory = new WebAssembly.Memory({ initial: 2, maximum: MAX_PAGES, shared: true });
    const instance = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    // the module's exports are the functions asc declared (the memory is imported, not exported)
    this.k = instance.exports as unknown as KernelExports;
  }

  /** A pool of `threads` kernel threads over this engine's memory (created once per size). */
  pool(threads: number): KernelPool {
    let p = this.pools.get(threads);
    if (!p) {
      p = new KernelPool(this.module, this.memory, this.k, threads);
      this.pools.set(threads, p);
    }
    return p;
  }

  static create(): Engine {
    if (!existsSync(WASM_PATH)) {
      throw new Error(`kernels not built: ${WASM_PATH} is missing. Run \`npm run build\` (or \`npm ci\`, which builds them).`);
    }
    return new Engine(new WebAssembly.Module(readFileSync(WASM_PATH)));
  }

  /** Allocates a zeroed block (16-byte aligned for SIMD). */
  alloc<K extends ElementKind>(kind: K, length: number): Block<K> {
    const bytes = Math.max(length, 1) * BYTES[kind];
    const ptr = align16(this.top);
    const end = ptr + bytes;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      if (have / PAGE + pages > MAX_PAGES) {
        throw new Error(`kernel memory exhausted: ${end} bytes requested, 4 GiB is the WebAssembly limit`);
      }
      this.memory.grow(pages);
    }
    this.top = end;
    const block = new Block(this, kind, ptr, length);
    block.view().fill(0);
    return block;
  }

  /** Copies an array into a new block. */
  from(kind: "f64", data: ArrayLike<number>): Block<"f64">;
  from(kind: "f32", data: ArrayLike<number>): Block<"f32">;
  from(kind: "i32", data: ArrayLike<number>): Block<"i32">;
  from(kind: ElementKind, data: ArrayLike<number>): Block {
    const block = this.alloc(kind, data.length);
    (block.view() as Float64Array).set(data);
    return block;
  }

  csr(m: { rows: number; cols: number; indptr: Int32Array; indices: Int32Array; values?: Float32Array | null }): CsrBlock {
    return {
      rows: m.rows,
      cols: m.cols,
      indptr: this.from("i32", m.indptr),
      indices: this.from("i32", m.indices),
      values: m.values ? this.from("f32", m.values) : null,
    };
  }

  /** Arena position, for releasing every block allocated after it with `release`. */
  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    if (mark < ARENA_START || mark > this.top) throw new Error(`invalid arena mark ${mark}`);
    this.top = mark;
  }

  /** Runs `fn` and frees every block it allocated; returns what it returned. */
  scoped<T>(fn: () => T): T {
    const mark = this.mark();
    try {
      return fn();
    } finally {
      this.release(mark);
    }
  }

  async scopedAsync<T>(fn: () => Promise<T>): Promise<T> {
    const mark = this.mark();
    try {
      return await fn();
    } finally {
      this.release(mark);
    }
  }

  /**
   * C = alpha * op(A) * op(B) + beta * C for row-major f64 blocks: A is m x k (k x m when
   * transA), B is k x n (n x k when transB), C is m x n.
   */
  gemm(opts: {
    m: number;
    n: number;
    k: number;
    a: Block<"f64">;
    b: Block<"f64">;
    c: Block<"f64">;
    transA?: boolean;
    transB?: boolean;
    alpha?: number;
    beta?: number;
  }): void {
    const { m, n, k, a, b, c } = opts;
    const ta = opts.transA ?? false;
    const tb = opts.transB ?? false;
    checkSize("gemm A", a, m * k);
    checkSize("gemm B", b, k * n);
    checkSize("gemm C", c, m * n);
    this.scoped(() => {
      const scratch = this.alloc("f64", this.k.gemmScratchBytes() / 8);
      this.k.gemmF64(m, n, k, opts.alpha ?? 1, a.ptr, ta ? 1 : k, ta ? m : 1, b.ptr, tb ? 1 : n, tb ? k : 1, opts.beta ?? 0, c.ptr, n, scratch.ptr);
    });
  }

  /** Inverts a symmetric positive definite n x n f64 matrix in place. */
  invertSpd(a: Block<"f64">, n: number): void {
    checkSize("invertSpd", a, n * n);
    this.scoped(() => {
      const scratch = this.alloc("f64", Math.ceil(this.k.spdInverseScratchBytes(n) / 8));
      this.k.spdInverseF64(a.ptr, n, n, scratch.ptr);
    });
  }

  /** X^T X of a binary CSR matrix as a dense cols x cols f64 block. */
  gramBinary(x: CsrBlock): Block<"f64"> {
    const out = this.alloc("f64", x.cols * x.cols);
    this.k.gramBinaryF64(x.indptr.ptr, x.indices.ptr, x.rows, out.ptr, x.cols);
    return out;
  }

  /** out[(r - r0) x d] = rows r0..r1 of the sparse matrix times dense[cols x d]. */
  spmm(x: CsrBlock, r0: number, r1: number, dense: Block<"f32">, d: number, out: Block<"f32">): void {
    if (r0 < 0 || r1 > x.rows || r0 > r1) throw new RangeError(`spmm rows ${r0}..${r1} outside 0..${x.rows}`);
    checkSize("spmm dense", dense, x.cols * d);
    if (out.length < (r1 - r0) * d) throw new RangeError(`spmm out holds ${out.length}, needs ${(r1 - r0) * d}`);
    this.k.spmmF32(x.indptr.ptr, x.indices.ptr, x.values?.ptr ?? 0, r0, r1, dense.ptr, d, out.ptr);
  }
}

function align16(n: number): number {
  return Math.ceil(n / 16) * 16;
}

function checkSize(what: string, block: Block, expected: number): void {
  if (block.length !== expected) throw new RangeError(`${what}: block holds ${block.length} values, expected ${expected}`);
}

let shared: Engine | null = null;

/** The process-wide engine (one linear memory shared by every model). */
export function engine(): Engine {
  shared ??= Engine.create();
  return shared;
}
