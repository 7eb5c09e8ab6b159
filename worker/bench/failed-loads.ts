// npm run bench:failed-loads: what failed model loads leave behind, running the Worker's own
// loading code (worker/src/model-load.ts) in Node with the same onnxruntime-web wasm over an
// exported bundle held in memory. Each kind of failure is measured on its own, `--loads` times,
// every load failing after the bundle's files were verified (the manifest's checksums match the
// broken files, as a bad export would publish them): ids.json not JSON; model.onnx random bytes,
// truncated, with an operator ONNX does not have, with its input renamed (the contract's check
// refuses those before any session exists); the last graph the load builds truncated; and a graph
// the check passes but ONNX Runtime refuses (similar.onnx's TopK along an axis its scores do not
// have), built after the others, in the same bytes every load and in new bytes every load. Then
// all the kinds in turn. Memory is read after full collections, before and after: the live memory
// (V8's heap, its external memory such as ArrayBuffers, and the wasm memories, ORT's and the int8
// kernel's, which V8 counts in neither), ORT's wasm memory alone (it never shrinks, so what a
// failed load kept shows up there), and the process's resident memory, which also holds what the
// allocator has not handed back: it climbs over the first loads of a process, good or failed, then
// levels off, so the failed loads are measured after `--warm-up` good loads and one of each kind,
// and as many good loads, each released, are measured the same way after them as the control. A
// benchmark: it asserts nothing. Ends with one JSON line.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Command } from "commander";
import { BUNDLE_FILES, type Manifest } from "../../training/src/contract/artifacts.ts";
import { integer, runCli } from "../../training/src/cli/options.ts";
import { compiledRankKernel } from "../../training/src/export/evaluate-graph.ts";
import { readBundle } from "../../training/src/publish/read-bundle.ts";
import { kernelWasmBytes } from "../../training/src/shared/int8-ranker.ts";
import { type ModelBucket, disposeModel, loadVersion, readPointer } from "../src/model-load.ts";
import { randomBytes, refusedByOrt, truncated, unknownOperator, wrongInputNames } from "./broken-graphs.ts";
import { memoryBucket, publishedObjects } from "./memory-bucket.ts";
import { ortWasmBytes, watchOrtMemory } from "./ort-memory.ts";

const program = new Command("bench:failed-loads")
  .description("Resident memory of the Node process before and after failed model loads (the Worker's own loading code, same onnxruntime-web wasm).")
  .option("--model <name>", "exported model", "lightgcn")
  .option("--artifacts <dir>", "artifacts folder", "artifacts")
  .option("--loads <n>", "failed loads of each kind (and good loads in the control)", integer, 100)
  .option("--warm-up <n>", "good loads, each released, before anything is measured", integer, 100);
program.parse();
const o = program.opts<{ model: string; artifacts: string; loads: number; warmUp: number }>();

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const mb = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

// ORT's linear memory, caught when ORT instantiates its wasm (before the first session)
watchOrtMemory();
const ort = await import("onnxruntime-web");

interface Sample {
  live: number;
  ortWasm: number;
  rss: number;
}

/** Memory after full collections (a few: finalizers free more on the next pass). */
async function settled(): Promise<Sample> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 20));
  }
  const m = process.memoryUsage();
  const ortWasm = ortWasmBytes();
  return { live: m.heapUsed + m.external + ortWasm + kernelWasmBytes(), ortWasm, rss: m.rss };
}

const describe = (s: Sample): string => `live ${mb(s.live)} MB (ORT's wasm ${mb(s.ortWasm)} MB), resident ${mb(s.rss)} MB`;

/** The bundle with one file replaced, its manifest entry rewritten to match the new bytes. */
function withFile(files: ReadonlyMap<string, Uint8Array>, manifest: Manifest, key: keyof Manifest["files"], bytes: Uint8Array): Map<string, Uint8Array> {
  const hash = (algorithm: string) => createHash(algorithm).update(bytes).digest("hex");
  const changed: Manifest = { ...manifest, files: { ...manifest.files, [key]: { bytes: bytes.byteLength, sha256: hash("sha256"), md5: hash("md5") } } };
  const out = new Map(files);
  out.set(BUNDLE_FILES[key], bytes);
  out.set(BUNDLE_FILES.manifest, new TextEncoder().encode(JSON.stringify(changed)));
  return out;
}

await runCli(async () => {
  ort.env.wasm.numThreads = 1;
  const kernel = compiledRankKernel();
  const bundle = readBundle(join(o.artifacts, o.model));
  const { manifest } = bundle;
  const v = manifest.version;
  // the graph built last: a load that fails there has built every other session first
  const last = (["because", "foldin", "similar"] as const).find((k) => manifest.files[k] && !(k === "because" && manifest.files.normalized));
  if (!last) throw new Error(`${v} has no graph built after model.onnx: export a model with item embeddings (lightgcn)`);
  const graph = (k: keyof Manifest["files"]): Uint8Array => bundle.files.get(BUNDLE_FILES[k])!;
  const broken = (k: keyof Manifest["files"], bytes: Uint8Array): ModelBucket =>
    memoryBucket(publishedObjects(v, withFile(bundle.files, manifest, k, bytes)), true);
  // the graph ORT refuses: one with a TopK, built after the ranker's sessions when there is one
  const topK = (["similar", "foldin", "model"] as const).find((k) => manifest.files[k])!;
  const model = graph("model");
  let distinct = 0;
  /** The same broken bundle every load (made once). */
  const same = (make: () => ModelBucket): (() => ModelBucket) => {
    let bucket: ModelBucket | undefined;
    return () => (bucket ??= make());
  };
  const faults: { name: string; bucket: () => ModelBucket }[] = [
    { name: "ids.json is not JSON", bucket: same(() => broken("ids", new TextEncoder().encode("{"))) },
    { name: "model.onnx random bytes", bucket: same(() => broken("model", randomBytes(model))) },
    { name: "model.onnx truncated", bucket: same(() => broken("model", truncated(model))) },
    { name: "model.onnx with an unknown operator", bucket: same(() => broken("model", unknownOperator(model))) },
    { name: "model.onnx with its input renamed", bucket: same(() => broken("model", wrongInputNames(model))) },
    { name: `${BUNDLE_FILES[last]} truncated`, bucket: same(() => broken(last, truncated(graph(last)))) },
    { name: `${BUNDLE_FILES[topK]} refused by ORT, the same bytes`, bucket: same(() => broken(topK, refusedByOrt(graph(topK)))) },
    { name: `${BUNDLE_FILES[topK]} refused by ORT, new bytes each load`, bucket: () => broken(topK, refusedByOrt(graph(topK), `load ${++distinct}`)) },
  ];
  const load = async (bucket: ModelBucket) => loadVersion(bucket, await readPointer(bucket), ort, { kernel });
  const fail = async (bucket: ModelBucket): Promise<void> => {
    try {
      await disposeModel(await load(bucket));
    } catch {
      return;
    }
    throw new Error("a broken bundle loaded");
  };

  const good = memoryBucket(publishedObjects(v, bundle.files), true);
  // warm-up: ORT's wasm instantiated and grown to what one model needs, the allocator settled
  const cold = await settled();
  for (let n = 0; n < o.warmUp; n++) await disposeModel(await load(good));
  for (const f of faults) await fail(f.bucket());
  const warm = await settled();
  console.log(`warm-up, ${o.warmUp} good loads, each released: resident ${mb(cold.rss)} -> ${mb(warm.rss)} MB`);
  const measure = async (what: string, once: () => Promise<void>) => {
    const before = await settled();
    console.log(`${what}, ${o.loads} times; before: ${describe(before)}`);
    for (let n = 0; n < o.loads; n++) {
      await once();
      if ((n + 1) % 25 === 0) console.log(`  after ${n + 1}: ${describe(await settled())}`);
    }
    const after = await settled();
    const growth = (k: keyof Sample): number => mb(after[k] - before[k]);
    console.log(`  growth: live ${growth("live")} MB, ORT's wasm ${growth("ortWasm")} MB, resident ${growth("rss")} MB`);
    return {
      live_before_mb: mb(before.live),
      live_growth_mb: growth("live"),
      ort_wasm_growth_mb: growth("ortWasm"),
      rss_before_mb: mb(before.rss),
      rss_growth_mb: growth("rss"),
    };
  };
  const kinds: Record<string, Awaited<ReturnType<typeof measure>>> = {};
  for (const f of faults) {
    // the bucket is made before each load, outside what is measured once the load is done
    kinds[f.name] = await measure(`failed loads: ${f.name}`, () => fail(f.bucket()));
  }
  let n = 0;
  const failed = await measure("failed loads, every kind in turn", () => fail(faults[n++ % faults.length].bucket()));
  const control = await measure("good loads, each released (the control)", async () => disposeModel(await load(good)));
  console.log(
    JSON.stringify({
      version: v,
      bundle_mb: mb([...bundle.files.values()].reduce((s, b) => s + b.byteLength, 0)),
      warm_up_loads: o.warmUp,
      warm_up_rss_growth_mb: mb(warm.rss - cold.rss),
      loads: o.loads,
      failed,
      kinds,
      worst_live_growth_mb: Math.max(failed.live_growth_mb, ...Object.values(kinds).map((k) => k.live_growth_mb)),
      control,
    }),
  );
});
