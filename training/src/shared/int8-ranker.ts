// The Worker's own ranking over an int8 item table (candidates.bin), in the wasm SIMD kernel of
// assembly/rank-int8.ts beside this file: onnxruntime-web's int8 MatMul is slower than its float32 one,
// and float32 reads a 4x larger table on every request (see README, Scale). The table is copied
// once into the kernel's own memory; each ranking quantizes the float32 user vector to int16
// (one scale: the largest magnitude maps to 32767), so the only coarse rounding is the table's.
// Shared by training (the export evaluates what the Worker will serve with it) and the Worker.
// Takes the compiled kernel as a parameter: the Worker passes the module wrangler imported (a
// Worker may not compile wasm bytes), and Node (export, tests, benches) the one that
// compiledRankKernel() reads from worker/build/rank-int8.wasm.
import type { Int8Table } from "../contract/artifacts.ts";
import type { ItemMask } from "./item-mask.ts";

export interface Scored {
  item: number;
  score: number;
}

export interface Int8Ranker {
  /**
   * The best k rows for a float32 vector of length dim, best first, never a row of `exclude` and,
   * with `allowed` (a bitset over the rows, see item-mask.ts), only rows it holds.
   */
  rank(vector: Float32Array, k: number, exclude: ArrayLike<number>, allowed?: ItemMask | null): Scored[];
  /**
   * For each row of `items`, the position in `history` of the row it scores highest with, and
   * that score (the cosine, for a table of normalized rows); ties keep the earlier position.
   */
  bestMatches(items: ArrayLike<number>, history: ArrayLike<number>): { position: number; similarity: number }[];
}

interface RankKernel {
  rankInt8(
    table: number,
    scales: number,
    rows: number,
    stride: number,
    query: number,
    queryScale: number,
    excluded: number,
    k: number,
    outRows: number,
    outScores: number,
    allowed: number,
  ): number;
  bestMatchInt8(
    table: number,
    scales: number,
    stride: number,
    items: number,
    count: number,
    history: number,
    length: number,
    outPositions: number,
    outScores: number,
  ): void;
}

/** The kernels' memories not yet collected: isolate memory outside the JS heap, like ORT's. */
const memories = new Set<WeakRef<WebAssembly.Memory>>();

/** Bytes of every int8 kernel memory still alive (a released model's goes with its next collection). */
export function kernelWasmBytes(): number {
  let bytes = 0;
  for (const ref of memories) {
    const memory = ref.deref();
    if (memory) bytes += memory.buffer.byteLength;
    else memories.delete(ref);
  }
  return bytes;
}

// `npm run bench:faults` reads the isolate's memory through wrangler dev's inspector, where V8's
// heap statistics leave out wasm memories: this global lets it ask for the kernels'.
(globalThis as { __edgerecKernelWasmBytes?: () => number }).__edgerecKernelWasmBytes = kernelWasmBytes;

/** The most rows one ranking returns (the API's k is at most 100). */
export const MAX_RANKED = 1024;
const PAGE = 65536;
const QUERY_MAX = 32767;

const align = (n: number, to: number): number => Math.ceil(n / to) * to;

export function int8Ranker(kernel: WebAssembly.Module, table: Int8Table): Int8Ranker {
  const { rows, dim } = table;
  if (rows === 0 || dim === 0) throw new Error(`int8 ranker: an empty table (${rows} x ${dim})`);
  // rows padded to 16 bytes, the kernel's step; the padding is zero in the rows and the query
  const stride = align(dim, 16);
  const capacity = Math.min(rows, MAX_RANKED);
  // the kernel has no data of its own: the first bytes are left unused all the same
  const at = { table: 1024, scales: 0, query: 0, excluded: 0, allowed: 0, outRows: 0, outScores: 0, history: 0, positions: 0, end: 0 };
  at.scales = align(at.table + rows * stride, 16);
  at.query = align(at.scales + rows * 4, 16);
  at.excluded = align(at.query + stride * 2, 16);
  at.allowed = align(at.excluded + Math.ceil(rows / 8), 16);
  at.outRows = align(at.allowed + Math.ceil(rows / 8), 16);
  at.outScores = at.outRows + capacity * 4;
  // bestMatches: the rows to match go in outRows, the history (every row once at most) and the
  // positions found in areas of their own, the scores in outScores
  at.history = at.outScores + capacity * 4;
  at.positions = at.history + rows * 4;
  at.end = at.positions + capacity * 4;
  const pages = Math.ceil(at.end / PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  memories.add(new WeakRef(memory));
  // instantiated synchronously (the module is compiled already, and tiny): an awaited
  // WebAssembly.instantiate is no I/O to workerd, and a model load left waiting on one during a
  // hot swap was canceled as hung, with every request waiting on that load (bench:faults)
  const instance = new WebAssembly.Instance(kernel, { env: { memory } });
  const { rankInt8, bestMatchInt8 } = instance.exports as unknown as RankKernel;

  const bytes = new Uint8Array(memory.buffer);
  const values = new Uint8Array(table.values.buffer, table.values.byteOffset, table.values.byteLength);
  if (stride === dim) bytes.set(values, at.table);
  else for (let j = 0; j < rows; j++) bytes.set(values.subarray(j * dim, (j + 1) * dim), at.table + j * stride);
  new Float32Array(memory.buffer, at.scales, rows).set(table.scales);
  const query = new Int16Array(memory.buffer, at.query, stride);
  const excluded = new Uint8Array(memory.buffer, at.excluded, Math.ceil(rows / 8));
  const allowedBits = new Uint8Array(memory.buffer, at.allowed, Math.ceil(rows / 8));
  const outRows = new Int32Array(memory.buffer, at.outRows, capacity);
  const outScores = new Float32Array(memory.buffer, at.outScores, capacity);

  return {
    rank(vector, k, exclude, allowed = null) {
      if (vector.length !== dim) throw new Error(`int8 ranker: a vector of ${vector.length} values for a table of dimension ${dim}`);
      if (k > capacity) throw new Error(`int8 ranker: k ${k} is over ${capacity}`);
      // a mask over a longer catalogue (movies added after the table was made) covers the table's rows first
      if (allowed && allowed.length < allowedBits.length)
        throw new Error(`int8 ranker: a mask of ${allowed.length} bytes for a table of ${rows} rows (${allowedBits.length} bytes)`);
      // the mask is copied (rows / 8 bytes: 463 at ML-1M): the kernel reads it in place
      if (allowed) allowedBits.set(allowed.subarray(0, allowedBits.length));
      let max = 0;
      for (const v of vector) max = Math.max(max, Math.abs(v));
      const scale = max > 0 ? max / QUERY_MAX : 1;
      for (let c = 0; c < dim; c++) query[c] = Math.round(vector[c] / scale);
      for (let i = 0; i < exclude.length; i++) {
        const j = exclude[i];
        if (j >= 0 && j < rows) excluded[j >> 3] |= 1 << (j & 7);
      }
      const n = rankInt8(at.table, at.scales, rows, stride, at.query, scale, at.excluded, k, at.outRows, at.outScores, allowed ? at.allowed : 0);
      // the bitmap is cleared bit by bit: 11 KB at ML-32M size, for a few hundred excluded rows
      for (let i = 0; i < exclude.length; i++) {
        const j = exclude[i];
        if (j >= 0 && j < rows) excluded[j >> 3] = 0;
      }
      const out: Scored[] = new Array(n);
      for (let r = 0; r < n; r++) out[r] = { item: outRows[r], score: outScores[r] };
      return out;
    },
    bestMatches(items, history) {
      if (items.length > capacity) throw new Error(`int8 ranker: ${items.length} items to match is over ${capacity}`);
      if (history.length > rows) throw new Error(`int8 ranker: a history of ${history.length} rows for a table of ${rows}`);
      const inRange = (j: number): boolean => Number.isInteger(j) && j >= 0 && j < rows;
      for (let r = 0; r < items.length; r++) {
        if (!inRange(items[r])) throw new Error(`int8 ranker: row ${items[r]} is not in the table`);
        outRows[r] = items[r];
      }
      const historyRows = new Int32Array(memory.buffer, at.history, history.length);
      for (let p = 0; p < history.length; p++) {
        if (!inRange(history[p])) throw new Error(`int8 ranker: row ${history[p]} is not in the table`);
        historyRows[p] = history[p];
      }
      bestMatchInt8(at.table, at.scales, stride, at.outRows, items.length, at.history, history.length, at.positions, at.outScores);
      const positions = new Int32Array(memory.buffer, at.positions, items.length);
      return Array.from({ length: items.length }, (_, r) => ({ position: positions[r], similarity: outScores[r] }));
    },
  };
}
