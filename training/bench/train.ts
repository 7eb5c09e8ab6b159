// npm run bench:train: speed of the LightGCN engine on the headline split of a dataset (ML-1M by
// default; --dataset synthetic-ml-32m for scale): ms per propagation layer, ms per training
// step, seconds per epoch, and the cost per edge, which is what scaling is judged by. Every step
// propagates the whole graph, so an epoch costs steps x edges: with the batch grown in
// proportion to the edges (constant steps per epoch) the cost per edge stays flat. Ends with one
// JSON line. A benchmark, not a test: it asserts nothing.
import { Command } from "commander";
import { engine } from "../src/engine/kernels.ts";
import { GraphOps } from "../src/engine/graph-ops.ts";
import { DEFAULT_TILE_BYTES, columnBlocks, planPropagation } from "../src/engine/propagation-plan.ts";
import { normalizedAdjacency } from "../src/models/graph/adjacency.ts";
import { LightGcnCore } from "../src/models/graph/lightgcn-core.ts";
import { BprSampler } from "../src/models/graph/sampler.ts";
import { initEmbeddings } from "../src/models/embedding-model.ts";
import { defaultThreads } from "../src/models/params.ts";
import { prepare } from "../src/pipeline/prepare.ts";
import { Rng } from "../src/util/rng.ts";
import { addDataOptions, integer, runCli } from "../src/cli/options.ts";

const program = addDataOptions(new Command("bench:train"))
  .description("Measure LightGCN propagation, step and epoch time on the headline split.")
  .option("--threads <n>", "kernel threads", integer, defaultThreads())
  .option("--layers <n>", "propagation layers", integer, 3)
  .option("--dim <n>", "embedding width", integer, 64)
  .option("--batch <n>", "BPR batch size", integer, 4096)
  .option("--repeat <n>", "timed repetitions of the propagation", integer, 50)
  .option("--steps <n>", "time only the first n steps of the epoch and extrapolate (large datasets)", integer)
  .option("--tile-rows <n>", "gathered rows per column block (default: what fits in 384 KB)", integer);
program.parse();
const o = program.opts<{
  dataset: string;
  from?: string;
  dataDir: string;
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

await runCli(async () => {
  const { split } = await prepare({ dataset: o.dataset, protocol: "recbole", seed: 2020, from: o.from, dataDir: o.dataDir, log: (l) => console.error(l) });
  const e = engine();
  const ops = new GraphOps(e, o.threads);
  const train = split.train;
  const adjCsr = normalizedAdjacency(train);
  const adj = planPropagation(e, adjCsr, o.threads, columnBlocks(train.rows, train.cols, o.tileRows ?? Math.floor(DEFAULT_TILE_BYTES / (o.dim * 4))));
  const nodes = train.rows + train.cols;
  console.log(`graph: ${nodes} nodes, ${adjCsr.indptr[nodes]} nonzeros; dim ${o.dim}, ${o.layers} layers, batch ${o.batch}, ${o.threads} thread(s)`);

  const src = e.from("f32", initEmbeddings(new Rng(1), train.rows, train.cols, o.dim, "normal", 0.1));
  const dst = e.alloc("f32", nodes * o.dim);
  for (let i = 0; i < 5; i++) ops.propagate(adj, src, dst, null, o.dim);
  const spmm: number[] = [];
  for (let i = 0; i < o.repeat; i++) {
    const t = performance.now();
    ops.propagate(adj, src, dst, null, o.dim);
    spmm.push(performance.now() - t);
  }
  const spmmMs = median(spmm);
  console.log(`propagation layer: ${spmmMs.toFixed(2)} ms (median of ${o.repeat})`);

  const core = new LightGcnCore(
    ops,
    e,
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
  const triples = { users: e.alloc("i32", o.batch), pos: e.alloc("i32", o.batch), neg: e.alloc("i32", o.batch) };
  const moments = core.params.map((p) => ({ m: e.alloc("f32", p.length), v: e.alloc("f32", p.length) }));
  const adam = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 };
  const steps = Math.ceil(sampler.size / o.batch);
  const timed = Math.min(steps, o.steps ?? steps);
  const parts = { sample: 0, lossAndGrad: 0, adam: 0 };
  const epochStart = performance.now();
  for (let k = 0; k < timed; k++) {
    const count = Math.min(o.batch, sampler.size - k * o.batch);
    let t = performance.now();
    sampler.fill(k * o.batch, count, triples.users.view(), triples.pos.view(), triples.neg.view());
    parts.sample += performance.now() - t;
    t = performance.now();
    core.lossAndGrad(triples, count);
    parts.lossAndGrad += performance.now() - t;
    t = performance.now();
    core.params.forEach((p, i) => void ops.adam(p, core.grads[i], moments[i].m, moments[i].v, k + 1, core.gradScales[i], adam));
    parts.adam += performance.now() - t;
  }
  const stepMs = (performance.now() - epochStart) / timed;
  const epochSeconds = (stepMs * steps) / 1000;
  console.log(
    `training step: ${stepMs.toFixed(2)} ms (sampling ${(parts.sample / timed).toFixed(2)}, forward + BPR + backward ${(parts.lossAndGrad / timed).toFixed(2)}, Adam ${(parts.adam / timed).toFixed(2)})`,
  );
  console.log(
    `epoch: ${epochSeconds.toFixed(2)} s (${steps} steps over ${sampler.size} train interactions${timed < steps ? `; ${timed} steps timed, the rest extrapolated` : ""})`,
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
      spmm_ms: round(spmmMs),
      step_ms: round(stepMs),
      epoch_seconds: round(epochSeconds),
      ns_per_edge_epoch: round(nsPerEdge),
      ns_per_nonzero_layer: round(nsPerNonzero),
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      train_edges: edges,
      timed_steps: timed,
      threads: o.threads,
      steps,
      nonzeros: adjCsr.indptr[nodes],
      dim: o.dim,
      layers: o.layers,
      batch: o.batch,
    }),
  );
  await ops.pool.close();
});

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
