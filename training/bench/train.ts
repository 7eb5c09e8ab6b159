// npm run bench:train: speed of the LightGCN engine on the headline split of a dataset (ML-1M by
// default; --dataset synthetic-ml-32m for scale): ms per propagation layer, ms per training
// step, seconds per epoch, and the cost per edge, which is what scaling is judged by. Every step
// propagates the whole graph, so an epoch costs steps x edges: with the batch grown in
// proportion to the edges (constant steps per epoch) the cost per edge stays flat. Ends with one
// JSON line. A benchmark, not a test: it asserts nothing.
import { Command, Option } from "commander";
import { DEVICES, type Device, type GraphBackend, type Propagation } from "../src/engine/backend.ts";
import { createBackend } from "../src/engine/create.ts";
import { WasmBackend } from "../src/engine/wasm/backend.ts";
import { columnBlocks, planPropagation } from "../src/engine/wasm/propagation-plan.ts";
import { normalizedAdjacency } from "../src/models/graph/adjacency.ts";
import { LightGcnCore } from "../src/models/graph/lightgcn-core.ts";
import { BprSampler } from "../src/models/graph/sampler.ts";
import { initEmbeddings } from "../src/models/embedding-model.ts";
import { defaultThreads } from "../src/models/params.ts";
import { prepare } from "../src/pipeline/prepare.ts";
import { Rng } from "../src/util/rng.ts";
import { addDataOptions, integer, runCli } from "../src/cli/options.ts";

const program = addDataOptions(new Command("bench:train"))
  .description("Measure LightGCN propagation, step and epoch time on the headline split, on the CPU or the GPU backend.")
  .addOption(new Option("--device <device>", "backend: cpu (WebAssembly SIMD threads) or gpu (WebGPU)").choices([...DEVICES]).default("cpu"))
  .option("--threads <n>", "kernel threads (cpu)", integer, defaultThreads())
  .option("--layers <n>", "propagation layers", integer, 3)
  .option("--dim <n>", "embedding width", integer, 64)
  .option("--batch <n>", "BPR batch size", integer, 4096)
  .option("--repeat <n>", "timed repetitions of the propagation", integer, 50)
  .option("--steps <n>", "time only the first n steps of the epoch and extrapolate (large datasets)", integer)
  .option("--tile-rows <n>", "gathered rows per column block on the cpu (default: what fits in 384 KB)", integer);
program.parse();
const o = program.opts<{
  dataset: string;
  from?: string;
  dataDir: string;
  device: Device;
  threads: number;
  layers: number;
  dim: number;
  batch: number;
  repeat: number;
  steps?: number;
  tileRows?: number;
}>();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Milliseconds `fn` takes once every op it recorded has run (a GPU runs ops after they are recorded). */
async function timed(backend: GraphBackend, fn: () => void): Promise<number> {
  const t = performance.now();
  fn();
  await backend.settle();
  return performance.now() - t;
}

await runCli(async () => {
  const { split } = await prepare({ dataset: o.dataset, protocol: "recbole", seed: 2020, from: o.from, dataDir: o.dataDir, log: (l) => console.error(l) });
  const backend = await createBackend(o.device, o.threads);
  const train = split.train;
  const adjCsr = normalizedAdjacency(train);
  const adj: Propagation =
    o.tileRows && backend instanceof WasmBackend
      ? planPropagation(backend.engine, adjCsr, o.threads, columnBlocks([train.rows, train.cols], o.tileRows))
      : backend.propagation(adjCsr, o.dim, [train.rows, train.cols]);
  const nodes = train.rows + train.cols;
  console.log(`graph: ${nodes} nodes, ${adjCsr.indptr[nodes]} nonzeros; dim ${o.dim}, ${o.layers} layers, batch ${o.batch}; ${backend.description}`);

  const src = backend.upload(initEmbeddings(new Rng(1), train.rows, train.cols, o.dim, "normal", 0.1));
  const dst = backend.zeros("f32", nodes * o.dim);
  await timed(backend, () => {
    for (let i = 0; i < 5; i++) backend.propagate(adj, src, dst, null, o.dim);
  });
  const spmm: number[] = [];
  for (let i = 0; i < o.repeat; i++) spmm.push(await timed(backend, () => backend.propagate(adj, src, dst, null, o.dim)));
  const spmmMs = median(spmm);
  console.log(`propagation layer: ${spmmMs.toFixed(2)} ms (median of ${o.repeat})`);

  const core = new LightGcnCore(
    backend,
    adj,
    train.rows,
    train.cols,
    o.dim,
    o.layers,
    1e-4,
    initEmbeddings(new Rng(2), train.rows, train.cols, o.dim, "normal", 0.1),
  );
  const sampler = new BprSampler(train, new Rng(3));
  sampler.shuffle();
  const batch = { users: new Int32Array(o.batch), pos: new Int32Array(o.batch), neg: new Int32Array(o.batch) };
  const triples = backend.triples(o.batch);
  const moments = core.params.map((p) => ({ m: backend.zeros("f32", p.length), v: backend.zeros("f32", p.length) }));
  const adam = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
  const steps = Math.ceil(sampler.size / o.batch);
  const timedSteps = Math.min(steps, o.steps ?? steps);
  // one untimed step first: a GPU compiles its pipelines on first use
  const warm = async (k: number): Promise<void> => {
    const count = Math.min(o.batch, sampler.size - k * o.batch);
    sampler.fill(k * o.batch, count, batch.users, batch.pos, batch.neg);
    backend.setTriples(triples, batch.users, batch.pos, batch.neg, count);
    core.lossAndGrad(triples);
    core.params.forEach((p, i) => void backend.adam(p, core.grads[i], moments[i].m, moments[i].v, k + 1, core.gradScales[i], adam));
  };
  await warm(0);
  await backend.settle();
  const parts = { sample: 0, record: 0 };
  const epochStart = performance.now();
  for (let k = 0; k < timedSteps; k++) {
    const count = Math.min(o.batch, sampler.size - k * o.batch);
    let t = performance.now();
    sampler.fill(k * o.batch, count, batch.users, batch.pos, batch.neg);
    parts.sample += performance.now() - t;
    t = performance.now();
    backend.setTriples(triples, batch.users, batch.pos, batch.neg, count);
    core.lossAndGrad(triples);
    core.params.forEach((p, i) => void backend.adam(p, core.grads[i], moments[i].m, moments[i].v, k + 1, core.gradScales[i], adam));
    parts.record += performance.now() - t;
    if ((k & 15) === 15) await backend.settle();
  }
  await backend.takeLosses();
  const stepMs = (performance.now() - epochStart) / timedSteps;
  const epochSeconds = (stepMs * steps) / 1000;
  const split2 =
    backend.kind === "wasm"
      ? `sampling ${(parts.sample / timedSteps).toFixed(2)}, forward + BPR + backward + Adam ${(parts.record / timedSteps).toFixed(2)}`
      : `host sampling ${(parts.sample / timedSteps).toFixed(2)}, host sort + recording ${(parts.record / timedSteps).toFixed(2)}; the GPU runs the rest`;
  console.log(`training step: ${stepMs.toFixed(2)} ms (${split2})`);
  console.log(
    `epoch: ${epochSeconds.toFixed(2)} s (${steps} steps over ${sampler.size} train interactions${timedSteps < steps ? `; ${timedSteps} steps timed, the rest extrapolated` : ""})`,
  );
  const edges = sampler.size;
  const nsPerEdge = (epochSeconds * 1e9) / edges;
  const nsPerNonzero = (spmmMs * 1e6) / adjCsr.indptr[nodes];
  console.log(
    `per edge: ${nsPerEdge.toFixed(1)} ns of epoch per train interaction; ${nsPerNonzero.toFixed(2)} ns of propagation layer per adjacency nonzero; peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`,
  );
  console.log(
    JSON.stringify({
      dataset: o.dataset,
      device: o.device,
      adapter: backend.description,
      spmm_ms: round(spmmMs),
      step_ms: round(stepMs),
      epoch_seconds: round(epochSeconds),
      ns_per_edge_epoch: round(nsPerEdge),
      ns_per_nonzero_layer: round(nsPerNonzero),
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      train_edges: edges,
      timed_steps: timedSteps,
      threads: o.device === "cpu" ? o.threads : null,
      steps,
      nonzeros: adjCsr.indptr[nodes],
      dim: o.dim,
      layers: o.layers,
      batch: o.batch,
    }),
  );
  await backend.close();
});

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
