// npm run bench:failed-loads: what failed model loads leave behind, running the Worker's own
// loading code (worker/src/model-load.ts) in Node with the same onnxruntime-web wasm over an
// exported bundle held in memory. Each load fails after its files were verified, alternately in
// two ways: ids.json is not JSON (a check after the files' checksums), or the last ONNX graph the
// load builds is truncated (ORT refuses it after the others were built); the manifest's checksums
// match the broken files, as a bad export would publish them. Memory is read after full
// collections, before and after: the live memory (V8's heap, its external memory such as
// ArrayBuffers, and the wasm memories, ORT's and the int8 kernel's, which V8 counts in neither),
// ORT's wasm memory alone (it never shrinks, so sessions a failed load kept show up there), and the
// process's resident memory, which also holds what the allocator has not handed back: it climbs
// over the first loads of a process, good or failed, then levels off, so the failed loads are
// measured after `--warm-up` good loads, and as many good loads, each released, are measured the
// same way after them as the control. A benchmark: it asserts nothing. Ends with one JSON line.
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
import { memoryBucket, publishedObjects } from "./memory-bucket.ts";

const program = new Command("bench:failed-loads")
  .description("Resident memory of the Node process before and after failed model loads (the Worker's own loading code, same onnxruntime-web wasm).")
  .option("--model <name>", "exported model", "lightgcn")
  .option("--artifacts <dir>", "artifacts folder", "artifacts")
  .option("--loads <n>", "failed loads (and good loads in the control)", integer, 100)
  .option("--warm-up <n>", "good loads, each released, before anything is measured", integer, 100);
program.parse();
const o = program.opts<{ model: string; artifacts: string; loads: number; warmUp: number }>();

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
const mb = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

// ORT's linear memory, caught when ORT instantiates its wasm (before the first session)
let ortMemory: WebAssembly.Memory | null = null;
const instantiate = WebAssembly.instantiate.bind(WebAssembly) as (source: unknown, imports?: WebAssembly.Imports) => Promise<unknown>;
(WebAssembly as { instantiate: unknown }).instantiate = async (source: unknown, imports?: WebAssembly.Imports) => {
  const result = (await instantiate(source, imports)) as WebAssembly.Instance | { instance: WebAssembly.Instance };
  const instance = "instance" in result ? result.instance : result;
  const places = [instance.exports, ...Object.values(imports ?? {})];
  ortMemory ??= places.flatMap((p) => Object.values(p)).find((v): v is WebAssembly.Memory => v instanceof WebAssembly.Memory) ?? null;
  return result;
};
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
  const ortWasm = ortMemory?.buffer.byteLength ?? 0;
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
  const graph = bundle.files.get(BUNDLE_FILES[last])!;
  const faults: { name: string; bucket: ModelBucket }[] = [
    { name: "ids.json is not JSON", bucket: memoryBucket(publishedObjects(v, withFile(bundle.files, manifest, "ids", new TextEncoder().encode("{"))), true) },
    {
      name: `${BUNDLE_FILES[last]} truncated`,
      bucket: memoryBucket(publishedObjects(v, withFile(bundle.files, manifest, last, graph.subarray(0, graph.byteLength >> 1))), true),
    },
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
  for (const f of faults) await fail(f.bucket);
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
  let n = 0;
  const failed = await measure(`failed loads (${faults.map((f) => f.name).join(", ")}, alternately)`, () => fail(faults[n++ % faults.length].bucket));
  const control = await measure("good loads, each released (the control)", async () => disposeModel(await load(good)));
  console.log(
    JSON.stringify({
      version: v,
      bundle_mb: mb([...bundle.files.values()].reduce((s, b) => s + b.byteLength, 0)),
      warm_up_loads: o.warmUp,
      warm_up_rss_growth_mb: mb(warm.rss - cold.rss),
      loads: o.loads,
      failed,
      control,
    }),
  );
});
