// Runs one kernel on several threads at once over the shared WebAssembly memory. The calling
// thread is thread 0 and works too; the others are worker_threads woken through Atomics, so a
// dispatch costs microseconds, not a message round trip.
import { Worker } from "node:worker_threads";
import type { KernelExports } from "./kernel-exports.ts";

/** A kernel's name, and the arguments it takes (from asc's typings of the module). */
export type KernelName = keyof KernelExports;
export type KernelArgs<N extends KernelName> = Parameters<KernelExports[N]>;

const SLOT = 24; // per thread: function index, argument count, up to 21 arguments, result

export class KernelPool {
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(16));
  private readonly args = new Float64Array(new SharedArrayBuffer(8 * SLOT * 64));
  private readonly workers: Worker[] = [];
  private readonly names: string[];

  constructor(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    private readonly exports: KernelExports,
    readonly threads: number,
  ) {
    if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new RangeError(`threads must be 1..64, got ${threads}`);
    this.names = Object.keys(exports).filter((k) => typeof exports[k as KernelName] === "function");
    for (let tid = 1; tid < threads; tid++) {
      const w = new Worker(new URL("./worker.mjs", import.meta.url), {
        workerData: {
          module,
          memory,
          control: this.ctrl.buffer,
          args: this.args.buffer,
          names: this.names,
          tid,
          slot: SLOT,
          startGeneration: Atomics.load(this.ctrl, 0),
        },
      });
      w.unref();
      this.workers.push(w);
    }
  }

  /**
   * Calls kernel `name` once per thread with that thread's arguments (perThread[t]) and returns
   * each thread's result. Thread 0 runs on the caller.
   */
  run<N extends KernelName>(name: N, perThread: KernelArgs<N>[]): number[] {
    if (perThread.length !== this.threads) throw new RangeError(`${name}: ${perThread.length} argument lists for ${this.threads} threads`);
    const fnIndex = this.names.indexOf(name);
    if (fnIndex < 0) throw new Error(`unknown kernel ${name}`);
    for (let t = 1; t < this.threads; t++) {
      const base = t * SLOT;
      const list = perThread[t];
      if (list.length > SLOT - 3) throw new RangeError(`${name}: too many arguments`);
      this.args[base] = fnIndex;
      this.args[base + 1] = list.length;
      for (let i = 0; i < list.length; i++) this.args[base + 2 + i] = list[i];
    }
    const results = new Array<number>(this.threads);
    if (this.threads > 1) {
      Atomics.store(this.ctrl, 1, 0);
      Atomics.add(this.ctrl, 0, 1);
      Atomics.notify(this.ctrl, 0);
    }
    const kernel = this.exports[name] as (...args: KernelArgs<N>) => number | undefined;
    results[0] = Number(kernel(...perThread[0]) ?? 0);
    const others = this.threads - 1;
    for (let done = Atomics.load(this.ctrl, 1); done < others; done = Atomics.load(this.ctrl, 1)) {
      Atomics.wait(this.ctrl, 1, done);
    }
    for (let t = 1; t < this.threads; t++) results[t] = this.args[t * SLOT + SLOT - 1];
    return results;
  }

  async close(): Promise<void> {
    Atomics.store(this.ctrl, 2, 1);
    Atomics.add(this.ctrl, 0, 1);
    Atomics.notify(this.ctrl, 0);
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers.length = 0;
  }
}

/** Splits rows 0..rows into `parts` contiguous ranges with about equal nonzeros. */
export function balancedRowRanges(indptr: Int32Array, rows: number, parts: number): [number, number][] {
  const total = indptr[rows];
  const ranges: [number, number][] = [];
  let start = 0;
  for (let p = 1; p <= parts; p++) {
    let end = rows;
    if (p < parts) {
      const target = (total * p) / parts;
      end = start;
      while (end < rows && indptr[end] < target) end++;
    }
    ranges.push([start, end]);
    start = end;
  }
  return ranges;
}

/** Splits 0..n into `parts` ranges whose inner boundaries are multiples of `align`. */
export function evenRanges(n: number, parts: number, align = 4): [number, number][] {
  const ranges: [number, number][] = [];
  let start = 0;
  for (let p = 1; p <= parts; p++) {
    const end = p === parts ? n : Math.min(n, Math.ceil((n * p) / parts / align) * align);
    ranges.push([start, end]);
    start = end;
  }
  return ranges;
}
