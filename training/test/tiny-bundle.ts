// A small but servable bundle built in memory: two movies, three users, real ONNX graphs from
// the exporter, rated lists from the contract's encoder, checksums computed. Publishing tests
// start from it; `replace` swaps a file's bytes (the manifest's checksums follow) to make a bundle
// whose bytes match its manifest but whose content is wrong.
import { createHash } from "node:crypto";
import onnxProto from "onnx-proto";
import { BUNDLE_FILES, type Manifest, RECS_GRAPH, SIMILAR_GRAPH, encodeRated } from "../src/contract/artifacts.ts";
import { buildTopKGraph } from "../src/export/onnx-graph.ts";
import type { Bundle } from "../src/publish/publish.ts";

const DIM = 2;
const MOVIES = [
  { movieId: 10, title: "Alpha (1990)", year: 1990, genres: ["Drama"] },
  { movieId: 20, title: "Beta (1991)", year: 1991, genres: ["Comedy"] },
];
const USERS = [1, 2, 3];

function graph(version: string, what: "model" | "similar", items = MOVIES.length): Uint8Array {
  const table = (rows: number) => Float32Array.from({ length: rows * DIM }, (_, i) => (i % 3) + 1);
  if (what === "similar")
    return buildTopKGraph({
      name: "similar",
      queries: null,
      candidates: { name: SIMILAR_GRAPH.initializers.candidates, data: table(items), rows: items },
      dim: DIM,
      inputs: SIMILAR_GRAPH.inputs,
      outputs: SIMILAR_GRAPH.outputs,
      docString: `similar movies of ${version}`,
    });
  return buildTopKGraph({
    name: "recs",
    queries: { name: RECS_GRAPH.initializers.queries, data: table(USERS.length), rows: USERS.length },
    candidates: { name: RECS_GRAPH.initializers.candidates, data: table(items), rows: items },
    dim: DIM,
    inputs: RECS_GRAPH.inputs,
    outputs: RECS_GRAPH.outputs,
    docString: `top-k of ${version}`,
  });
}

const enc = (s: string) => new TextEncoder().encode(s);
const info = (bytes: Uint8Array) => ({ bytes: bytes.byteLength, sha256: createHash("sha256").update(bytes).digest("hex") });

export interface TinyOptions {
  /** Files (by name) whose bytes replace the valid ones, the manifest's checksums updated to match. */
  replace?: Record<string, Uint8Array | string>;
  /** Manifest fields to change. */
  manifest?: Partial<Manifest>;
  /** Graphs exported for a catalogue of this many items instead of the bundle's. */
  graphItems?: number;
}

export function tinyBundle(version: string, created: string, opts: TinyOptions = {}): Bundle {
  const files = new Map<string, Uint8Array>([
    [BUNDLE_FILES.model, graph(version, "model", opts.graphItems)],
    [BUNDLE_FILES.similar, graph(version, "similar", opts.graphItems)],
    [BUNDLE_FILES.rated, encodeRated(USERS.length, MOVIES.length, [0, 1, 2, 3], [0, 1, 1])],
    [BUNDLE_FILES.movies, enc(JSON.stringify(MOVIES))],
    [BUNDLE_FILES.ids, enc(JSON.stringify({ users: USERS, items: MOVIES.map((m) => m.movieId) }))],
  ]);
  for (const [name, bytes] of Object.entries(opts.replace ?? {})) files.set(name, typeof bytes === "string" ? enc(bytes) : bytes);
  const manifest = {
    format: 1,
    version,
    created,
    dataset: "ml-1m",
    protocol: "recbole",
    seed: 1,
    model: "lightgcn",
    params: {},
    metrics: {},
    users: USERS.length,
    items: MOVIES.length,
    dim: DIM,
    foldin: null,
    files: {
      model: info(files.get(BUNDLE_FILES.model)!),
      similar: info(files.get(BUNDLE_FILES.similar)!),
      rated: info(files.get(BUNDLE_FILES.rated)!),
      movies: info(files.get(BUNDLE_FILES.movies)!),
      ids: info(files.get(BUNDLE_FILES.ids)!),
    },
    ...opts.manifest,
  } as unknown as Manifest;
  files.set(BUNDLE_FILES.manifest, enc(JSON.stringify(manifest)));
  return { manifest, files };
}

/** An ONNX graph that declares these inputs and nothing else: enough for publish's content check, not for serving. */
export function graphWithInputs(names: string[]): Uint8Array {
  const { onnx } = onnxProto;
  const INT64 = onnx.TensorProto.DataType.INT64;
  const input = names.map((name) => ({ name, type: { tensorType: { elemType: INT64, shape: { dim: [{ dimParam: "n" }] } } } }));
  return onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: "", version: 13 }], graph: { name: "inputs only", input } }).finish();
}
