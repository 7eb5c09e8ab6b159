// The served model's metrics: model.onnx itself, run in onnxruntime-web (the runtime the Worker
// uses), through the same full-ranking evaluation as training. Whatever the graph changes (float16
// weights, a fold-in user vector), these are the numbers of what is served.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import * as ort from "onnxruntime-web";
import { type Int8Table, RECS_GRAPH, type RecsQuery, VECTOR_GRAPH, recsTakesHistory, recsTakesUser } from "../contract/artifacts.ts";
import { int8Ranker } from "../shared/int8-ranker.ts";
import { type EvaluationOptions, VALID_SAMPLE_USERS, evaluateRanker, userSample } from "../eval/evaluate.ts";
import type { MetricValues } from "../eval/metrics.ts";
import { rowOf } from "../protocol/csr.ts";
import { type Split, evaluationMask, heldOut } from "../protocol/protocols.ts";

export interface GraphMetrics {
  valid: MetricValues | null;
  test: MetricValues;
  seconds: number;
  /** Users the metrics average over when they come from a fixed sample (large datasets; see VALID_SAMPLE_USERS). */
  sampleUsers: number | null;
}

/**
 * onnxruntime-web finds its wasm beside its own module; under a bundler's module runner (the
 * Workers tests' global setup) that place is lost, so it is given explicitly.
 */
function useInstalledWasm(): void {
  const dist = dirname(createRequire(import.meta.url).resolve("onnxruntime-web"));
  ort.env.wasm.wasmPaths = `${pathToFileURL(dist).href}/`;
  ort.env.wasm.numThreads = 1;
}

function int64(values: ArrayLike<number>): ort.Tensor {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
  return new ort.Tensor("int64", data, [values.length]);
}

/** Evaluates model.onnx on valid (when the protocol has one) and test. */
/**
 * servedItems: the items the graph ranks, when more than the split's (the catalogue's fallback
 * movies, after the split's items): they are excluded, so the metrics are the protocol's.
 */
export interface ServedOptions extends EvaluationOptions {
  servedItems?: number;
}

/** The split's exclusions plus every served item beyond the split's (none when the graph ranks the split's items only). */
function withFallbackExcluded(exclude: Int32Array, split: Split, servedItems: number | undefined): Int32Array {
  const extra = Math.max(0, (servedItems ?? split.counts.items) - split.counts.items);
  if (extra === 0) return exclude;
  const out = new Int32Array(exclude.length + extra);
  out.set(exclude);
  for (let e = 0; e < extra; e++) out[exclude.length + e] = split.counts.items + e;
  return out;
}

export async function evaluateGraph(graph: Uint8Array, recs: RecsQuery, split: Split, opts: ServedOptions = {}): Promise<GraphMetrics> {
  useInstalledWasm();
  const session = await ort.InferenceSession.create(graph);
  const [byUser, byHistory] = [recsTakesUser(recs), recsTakesHistory(recs)];
  const expected = [
    ...(byUser ? [RECS_GRAPH.inputs.query] : []),
    ...(byHistory ? [RECS_GRAPH.inputs.history] : []),
    RECS_GRAPH.inputs.k,
    RECS_GRAPH.inputs.exclude,
  ];
  if (session.inputNames.join() !== expected.join()) {
    throw new Error(
      `model.onnx takes ${session.inputNames.join(", ")}, but its metrics say it ranks from "${recs}" (${expected.join(", ")}): train the model again`,
    );
  }
  const start = performance.now();
  try {
    const rank = async (user: number, excludeSplit: Int32Array, k: number): Promise<ArrayLike<number>> => {
      const history = rowOf(split.train, user);
      if (byHistory && history.length === 0) return [];
      const exclude = withFallbackExcluded(excludeSplit, split, opts.servedItems);
      const out = await session.run({
        ...(byUser ? { [RECS_GRAPH.inputs.query]: int64([user]) } : {}),
        ...(byHistory ? { [RECS_GRAPH.inputs.history]: int64(history) } : {}),
        [RECS_GRAPH.inputs.k]: int64([Math.min(k, (opts.servedItems ?? split.counts.items) - exclude.length)]),
        [RECS_GRAPH.inputs.exclude]: int64(exclude),
      });
      return Array.from(out[RECS_GRAPH.outputs.items].data as BigInt64Array, Number);
    };
    return await evaluateServed(rank, split, opts, start);
  } finally {
    await session.release();
  }
}

type RankFn = (user: number, exclude: Int32Array, k: number) => Promise<ArrayLike<number>>;

async function evaluateServed(rank: RankFn, split: Split, opts: EvaluationOptions, start: number): Promise<GraphMetrics> {
  // one graph run per user: at scale, a fixed sample of users (the same one training validates on)
  const users = userSample(split.counts.users, VALID_SAMPLE_USERS, split.seed) ?? undefined;
  const run = (which: "valid" | "test") => evaluateRanker(rank, evaluationMask(split, which), heldOut(split, which), { ...opts, users });
  const valid = split.valid ? (await run("valid")).metrics : null;
  const test = await run("test");
  return { valid, test: test.metrics, seconds: (performance.now() - start) / 1000, sampleUsers: users ? test.users : null };
}

/** The Worker's ranking kernel, as `npm run build` compiles it, for Node (export, benches, tests). */
export function compiledRankKernel(): WebAssembly.Module {
  const path = join(import.meta.dirname, "../../../worker/build/rank-int8.wasm");
  try {
    return new WebAssembly.Module(readFileSync(path));
  } catch {
    throw new Error(`${path} is missing: run \`npm run build\` (it compiles the Worker's ranking kernel)`);
  }
}

/**
 * Evaluates what the Worker runs for a bundle with vector.onnx and candidates.bin: each train
 * history's vector from vector.onnx, every item ranked by the Worker's own int8 kernel.
 */
export async function evaluateVectorKernel(vectorGraph: Uint8Array, table: Int8Table, split: Split, opts: ServedOptions = {}): Promise<GraphMetrics> {
  useInstalledWasm();
  const session = await ort.InferenceSession.create(vectorGraph);
  const ranker = int8Ranker(compiledRankKernel(), table);
  const start = performance.now();
  try {
    const rank = async (user: number, excludeSplit: Int32Array, k: number): Promise<ArrayLike<number>> => {
      const history = rowOf(split.train, user);
      if (history.length === 0) return [];
      const exclude = withFallbackExcluded(excludeSplit, split, opts.servedItems);
      const out = await session.run({ [VECTOR_GRAPH.inputs.history]: int64(history) });
      const ranked = ranker.rank(out[VECTOR_GRAPH.outputs.vector].data as Float32Array, Math.min(k, table.rows - exclude.length), exclude);
      return ranked.map((r) => r.item);
    };
    return await evaluateServed(rank, split, opts, start);
  } finally {
    await session.release();
  }
}
