// Every kind of graph the exporter writes, over small random-free tables: the top-k graph by user
// with the fallback, the fold-ins (propagated, compact, least squares, item-item, known user, and a
// mix of all), vector, because, and the compact similar and because graphs. The contract's graph
// check and the Worker's graph skeletons are tested on each.
import { BECAUSE_GRAPH, FOLDIN_GRAPH, RECS_GRAPH, SIMILAR_GRAPH, VECTOR_GRAPH } from "../src/contract/artifacts.ts";
import {
  buildBecauseGraph,
  buildCompactBecauseGraph,
  buildCompactSimilarGraph,
  buildFoldInGraph,
  buildTopKGraph,
  buildVectorGraph,
} from "../src/export/onnx-graph.ts";
import { type FoldIn, type MixFoldIn, type PropagatedFoldIn, compactFoldIn, roundToHalf } from "../src/models/foldin.ts";

const USERS = 4;
const table = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i * 7) % 11) / 11 - 0.4);

/** [what, bytes] of each kind, for `items` items of dimension `dim`. */
export function exportedGraphs(items: number, dim: number): [string, Uint8Array][] {
  const propagated: PropagatedFoldIn = { kind: "propagated", items, dim, contributions: table(items * dim), candidates: table(items * dim) };
  const gram = Float32Array.from({ length: dim * dim }, (_, i) => (i % (dim + 1) === 0 ? 3 : 0.1));
  const foldIns: Exclude<FoldIn, MixFoldIn>[] = [
    propagated,
    compactFoldIn(propagated),
    { kind: "least-squares", items, dim, factors: table(items * dim), gram, alpha: 2 },
    { kind: "item-item", items, weights: roundToHalf(table(items * items)) },
    { kind: "known-user", items, dim, users: table(USERS * dim), foldIn: propagated },
  ];
  const mix: MixFoldIn = { kind: "mix", items, parts: foldIns.map((foldIn, i) => ({ weight: 1 / (i + 1), foldIn })) };
  const withUser = { inputs: { user: "user", ...FOLDIN_GRAPH.inputs }, outputs: FOLDIN_GRAPH.outputs };
  const compact = compactFoldIn(propagated).compact!;
  const fallback = { k: 2, neighbours: [0, 1, 2, 0], weights: [0.5, 0.5, 0, 0] };
  return [
    [
      "top-k by user, with the fallback",
      buildTopKGraph({
        name: "recs",
        queries: { name: RECS_GRAPH.initializers.queries, data: table(USERS * dim), rows: USERS },
        candidates: { name: RECS_GRAPH.initializers.candidates, data: table(items * dim), rows: items },
        dim,
        inputs: RECS_GRAPH.inputs,
        outputs: RECS_GRAPH.outputs,
        docString: "",
        fallback,
      }),
    ],
    ...[...foldIns, mix].map((f): [string, Uint8Array] => [`fold-in ${f.kind}`, buildFoldInGraph("foldin", f, withUser, fallback)]),
    ["vector", buildVectorGraph("vector", compactFoldIn(propagated), VECTOR_GRAPH)],
    ["because", buildBecauseGraph("because", table(items * dim), items, dim, BECAUSE_GRAPH)],
    ["compact similar", buildCompactSimilarGraph("similar", compact, items, dim, SIMILAR_GRAPH)],
    ["compact because", buildCompactBecauseGraph("because", compact, items, dim, BECAUSE_GRAPH)],
  ];
}
