// The graphs a trained model is served with, written by training while the model is still in
// memory (EASE's B or a fold-in's tables are not kept on disk otherwise); export adds them to the
// bundle. model.onnx ranks a known user from its trained vector, or by the model's fold-in
// scoring of its history (see Recommender.serving); foldin.onnx ranks a history, and is only
// needed beside a graph that does not take one.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { BUNDLE_FILES, FOLDIN_GRAPH, type FoldInKind, RECS_GRAPH, type RecsQuery, VECTOR_GRAPH, encodeInt8Table } from "../contract/artifacts.ts";
import { type FoldIn, takesUser } from "../models/foldin.ts";
import type { Recommender } from "../models/recommender.ts";
import { writeFileAtomic } from "../util/fs-atomic.ts";
import { buildFoldInGraph, buildTopKGraph, buildVectorGraph } from "./onnx-graph.ts";

export interface ServingGraphs {
  recs: RecsQuery | null;
  foldin: FoldInKind | null;
}

/** The recs graph's names when it takes a history (and the user, when the fold-in reads it). */
const RECS_BY_HISTORY = {
  inputs: { user: RECS_GRAPH.inputs.query, history: RECS_GRAPH.inputs.history, k: RECS_GRAPH.inputs.k, exclude: RECS_GRAPH.inputs.exclude },
  outputs: RECS_GRAPH.outputs,
};

export function writeServingGraphs(dir: string, model: Recommender): ServingGraphs {
  const recsPath = join(dir, BUNDLE_FILES.model);
  const foldInPath = join(dir, BUNDLE_FILES.foldin);
  const foldIn = model.foldIn?.() ?? null;
  if (model.serving === "history") {
    if (!foldIn) throw new Error(`${model.name} is served from histories but has no fold-in`);
    writeFileAtomic(recsPath, buildFoldInGraph(`${model.name} recommendations`, foldIn, RECS_BY_HISTORY));
    rmSync(foldInPath, { force: true });
    writeKernelFiles(dir, model.name, foldIn);
    return { recs: takesUser(foldIn) ? "user+history" : "history", foldin: foldIn.kind };
  }
  writeKernelFiles(dir, model.name, null);
  const emb = model.embeddings?.();
  if (!emb) {
    rmSync(recsPath, { force: true });
    rmSync(foldInPath, { force: true });
    return { recs: null, foldin: null };
  }
  writeFileAtomic(
    recsPath,
    buildTopKGraph({
      name: `${model.name} recommendations`,
      queries: { name: RECS_GRAPH.initializers.queries, data: emb.users, rows: emb.users.length / emb.dim },
      candidates: { name: RECS_GRAPH.initializers.candidates, data: emb.items, rows: emb.items.length / emb.dim },
      dim: emb.dim,
      inputs: { query: RECS_GRAPH.inputs.query, k: RECS_GRAPH.inputs.k, exclude: RECS_GRAPH.inputs.exclude },
      outputs: RECS_GRAPH.outputs,
      docString: "Scores every item by dot product with the user's final embedding, excludes the given items, returns the top k.",
    }),
  );
  if (foldIn) writeFileAtomic(foldInPath, buildFoldInGraph(`${model.name} fold-in`, foldIn, FOLDIN_GRAPH));
  else rmSync(foldInPath, { force: true });
  return { recs: "user", foldin: foldIn?.kind ?? null };
}

/**
 * With int8 candidates (a compact propagated fold-in served from histories), the Worker ranks
 * with its own wasm kernel, which ranks the int8 table 5x faster than onnxruntime-web's int8
 * MatMul: vector.onnx builds the user vector, candidates.bin holds the table it is scored
 * against. Any other model: neither file (an earlier training's are removed).
 */
function writeKernelFiles(dir: string, name: string, foldIn: FoldIn | null): void {
  const vectorPath = join(dir, BUNDLE_FILES.vector);
  const tablePath = join(dir, BUNDLE_FILES.candidates);
  if (foldIn?.kind !== "propagated" || !foldIn.compact) {
    rmSync(vectorPath, { force: true });
    rmSync(tablePath, { force: true });
    return;
  }
  writeFileAtomic(vectorPath, buildVectorGraph(`${name} user vector`, foldIn, VECTOR_GRAPH));
  writeFileAtomic(tablePath, encodeInt8Table({ rows: foldIn.items, dim: foldIn.dim, ...foldIn.compact }));
}
