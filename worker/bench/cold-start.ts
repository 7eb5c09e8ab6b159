// npm run bench:cold: the CPU a cold model load takes, running the Worker's own loading code
// (worker/src/model-load.ts) in Node with the same onnxruntime-web wasm, over the exported
// bundle held in memory: fetch (here a copy; on R2 it is I/O, not CPU), sha256 of every file,
// ORT session creation, parsing. Reported beside the Workers CPU limits. A benchmark: it asserts
// nothing. Ends with one JSON line.
import { join } from "node:path";
import { Command } from "commander";
import * as ort from "onnxruntime-web";
import { integer, runCli } from "../../training/src/cli/options.ts";
import { compiledRankKernel } from "../../training/src/export/evaluate-graph.ts";
import { readBundle } from "../../training/src/publish/read-bundle.ts";
import { type LoadedModel, type ModelBucket, type PhaseTimer, disposeModel, loadVersion, readPointer } from "../src/model-load.ts";
import { firstSession, initRuntime } from "../src/ort-start.ts";
import { memoryBucket, publishedObjects } from "./memory-bucket.ts";

const program = new Command("bench:cold")
  .description("CPU time of a cold model load with the Worker's own code in Node (same onnxruntime-web wasm), beside the Workers CPU limits.")
  .option("--model <name>", "exported model", "lightgcn")
  .option("--artifacts <dir>", "artifacts folder", "artifacts")
  .option("--loads <n>", "loads to time after the first", integer, 10)
  .option("--ort-start", "start ORT apart first (worker/src/ort-start.ts: its runtime's init, then a first session of a one-node graph) and time each", false);
program.parse();
const o = program.opts<{ model: string; artifacts: string; loads: number; ortStart: boolean }>();

/** The Worker's int8 ranking kernel, compiled here as wrangler compiles it for the Worker. */
const rankKernel = compiledRankKernel();

const FREE_CPU_MS = 10;
const PAID_DEFAULT_CPU_MS = 30_000;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number): number => Math.round(x * 10) / 10;

async function timedLoad(bucket: ModelBucket): Promise<{ cpu_ms: number; phases: Record<string, number>; model: LoadedModel }> {
  const phases: Record<string, number> = {};
  const timer: PhaseTimer = (name, ms) => {
    phases[name] = ms;
  };
  const cpu = process.cpuUsage();
  const model = await loadVersion(bucket, await readPointer(bucket), ort, { phase: timer, kernel: rankKernel });
  const used = process.cpuUsage(cpu);
  return { cpu_ms: (used.user + used.system) / 1000, phases, model };
}

/** Wall time of ORT's start in two parts, as the Worker makes it (ort-start.ts). */
async function timedOrtStart(): Promise<{ init_ms: number; first_session_ms: number }> {
  // with `node --no-wasm-lazy-compilation` nothing else keeps Node's event loop alive while V8
  // compiles ORT's wasm in the background, and the process would exit mid-await
  const alive = setInterval(() => {}, 1000);
  try {
    let t = performance.now();
    await initRuntime(ort);
    const init = performance.now() - t;
    t = performance.now();
    await firstSession(ort);
    return { init_ms: round(init), first_session_ms: round(performance.now() - t) };
  } finally {
    clearInterval(alive);
  }
}

await runCli(async () => {
  ort.env.wasm.numThreads = 1;
  const ortStart = o.ortStart ? await timedOrtStart() : null;
  if (ortStart)
    console.log(
      `ORT's start apart (compiling its wasm in Node included): runtime init ${ortStart.init_ms} ms, first session (one-node graph) ${ortStart.first_session_ms} ms`,
    );
  const bundle = readBundle(join(o.artifacts, o.model));
  const v = bundle.manifest.version;
  const objects = publishedObjects(v, bundle.files);
  const bytes = [...bundle.files.values()].reduce((s, b) => s + b.byteLength, 0);
  console.log(`bundle ${v}: ${(bytes / 1e6).toFixed(2)} MB in ${bundle.files.size} files`);

  // the two ways alternate, after a warm-up of each, so neither gets the other's warm JIT
  const buckets = { md5: memoryBucket(objects, true), sha: memoryBucket(objects, false) };
  const first = await timedLoad(buckets.md5);
  await disposeModel(first.model);
  await disposeModel((await timedLoad(buckets.sha)).model);
  console.log(
    `first load in a fresh process (${ortStart ? "after ORT's start, above" : "ORT's wasm compiled and instantiated too"}): ${round(first.cpu_ms)} ms CPU, by phase ${JSON.stringify(Object.fromEntries(Object.entries(first.phases).map(([p, ms]) => [p, round(ms)])))}`,
  );
  const runs = { md5: [] as Awaited<ReturnType<typeof timedLoad>>[], sha: [] as Awaited<ReturnType<typeof timedLoad>>[] };
  for (let n = 0; n < o.loads; n++) {
    for (const way of ["md5", "sha"] as const) {
      const r = await timedLoad(buckets[way]);
      runs[way].push(r);
      await disposeModel(r.model);
    }
  }
  const summarize = (rs: Awaited<ReturnType<typeof timedLoad>>[]) => ({
    cpu_ms: round(median(rs.map((r) => r.cpu_ms))),
    phases_ms: Object.fromEntries(Object.keys(rs[0].phases).map((p) => [p, round(median(rs.map((r) => r.phases[p])))])),
  });
  const withMd5 = summarize(runs.md5);
  const withSha = summarize(runs.sha);
  const describe = (s: typeof withMd5) =>
    `${s.cpu_ms} ms CPU; wall by phase: ${Object.entries(s.phases_ms)
      .map(([p, ms]) => `${p} ${ms} ms`)
      .join(", ")}`;
  console.log(`cold load of a new version, median of ${o.loads}, files checked by R2's stored MD5: ${describe(withMd5)}`);
  console.log("(CPU is the whole process's, V8's background threads included; the phases are the main thread's wall time, with no I/O here)");
  console.log(`the same without R2's MD5 (sha256 of every file): ${describe(withSha)}`);
  console.log(
    `Workers CPU per request: ${FREE_CPU_MS} ms on the Free plan, ${PAID_DEFAULT_CPU_MS / 1000} s by default on Paid: the request that loads a model ${withMd5.cpu_ms > FREE_CPU_MS ? "exceeds" : "fits"} the Free plan's limit; later requests only score.`,
  );
  console.log(
    JSON.stringify({
      version: v,
      bundle_bytes: bytes,
      first_load_cpu_ms: round(first.cpu_ms),
      first_load_phases_ms: Object.fromEntries(Object.entries(first.phases).map(([p, ms]) => [p, round(ms)])),
      ...(ortStart ? { ort_start: ortStart } : {}),
      r2_md5: withMd5,
      sha256: withSha,
      free_cpu_ms: FREE_CPU_MS,
      paid_default_cpu_ms: PAID_DEFAULT_CPU_MS,
    }),
  );
});
