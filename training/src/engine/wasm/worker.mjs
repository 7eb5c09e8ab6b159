// A kernel thread: instantiates the kernels over the shared memory and runs whatever export the
// pool names, on its own share of the work, until told to stop. Plain JavaScript so it loads
// in any Node >= 22 without a TypeScript loader.
import { workerData } from "node:worker_threads";

const { module, memory, control, args, names, tid, slot, startGeneration } = workerData;
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctrl = new Int32Array(control);
const a = new Float64Array(args);
const base = tid * slot;

// Start from the generation the pool had when this thread was created, so a dispatch issued
// before the thread got here is not missed.
let generation = startGeneration;
for (;;) {
  Atomics.wait(ctrl, 0, generation);
  generation = Atomics.load(ctrl, 0);
  if (Atomics.load(ctrl, 2) === 1) break;
  const fn = exports[names[a[base]]];
  const n = a[base + 1];
  const list = new Array(n);
  for (let i = 0; i < n; i++) list[i] = a[base + 2 + i];
  a[base + slot - 1] = fn(...list) ?? 0;
  Atomics.add(ctrl, 1, 1);
  Atomics.notify(ctrl, 1);
}
