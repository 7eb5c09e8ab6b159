// How a loaded model answers: one Ranker (a known user, or a history alone), one Explainer (the
// `because` of each recommendation) and, with item embeddings, one SimilarMovies. Each is made
// once per load by serving.ts from what the bundle holds, so a request calls one object and never
// chooses among graphs. The ONNX graphs are bound by the contract's input and output names, not
// by position; the int8 kernel (training/src/shared/int8-ranker.ts) ranks over candidates.bin.
import { BECAUSE_GRAPH, FOLDIN_GRAPH, RECS_GRAPH, SIMILAR_GRAPH, VECTOR_GRAPH } from "../../training/src/contract/artifacts.ts";
import type { Int8Ranker } from "../../training/src/shared/int8-ranker.ts";
import { type ItemMask, countRows, hasRow } from "../../training/src/shared/item-mask.ts";
import type { UserSnapshot } from "./user-store.ts";

export type { Scored } from "../../training/src/shared/int8-ranker.ts";
import type { Scored } from "../../training/src/shared/int8-ranker.ts";

type Session = import("onnxruntime-web").InferenceSession;
/** What the rankers use of onnxruntime-web: its tensors. */
export type TensorMaker = Pick<typeof import("onnxruntime-web"), "Tensor">;
type Tensor = InstanceType<TensorMaker["Tensor"]>;

export interface Ranker {
  /** What ranks: model.onnx in onnxruntime-web, or vector.onnx then the Worker's int8 kernel (GET /health says which). */
  readonly kind: "onnx" | "int8-kernel";
  /** Whether it ranks a history alone (anyone the model was not trained on); false: known users only. */
  readonly foldsIn: boolean;
  /**
   * A known user's top k, never an item of `exclude` (which holds no duplicates): by the trained
   * user vector, or by the user's train history plus `livePositives` when the model ranks
   * histories (then live ratings count at once). With `allowed` (a request's filters as a bitset
   * over the catalogue, see rules/filter.ts) only items it holds, masked before the top k.
   */
  rankUser(user: UserSnapshot, k: number, exclude: ArrayLike<number>, livePositives?: readonly number[], allowed?: ItemMask | null): Promise<Scored[]>;
  /** Top k for a history of items (no duplicates), by the model's fold-in; only when `foldsIn`. */
  rankHistory(history: ArrayLike<number>, k: number, exclude: ArrayLike<number>, allowed?: ItemMask | null): Promise<Scored[]>;
}

/** An item's most similar item of a history: its position in the history, and the cosine. */
export interface Match {
  position: number;
  similarity: number;
}

export interface Explainer {
  /** For each item, its best match in `history`; null when the bundle cannot say or there is nothing to compare. */
  explain(items: readonly number[], history: ArrayLike<number>): Promise<Match[] | null>;
}

export interface SimilarMovies {
  /** The k items nearest to `item` by cosine of the item embeddings, never an item of `exclude`. */
  rank(item: number, k: number, exclude: ArrayLike<number>): Promise<Scored[]>;
}

/** Ranks a known user (the signature of hardening.test.ts and the routes' earlier calls). */
export function recsForUser(
  model: { ranker: Ranker },
  user: UserSnapshot,
  k: number,
  exclude: ArrayLike<number>,
  livePositives: readonly number[] = [],
): Promise<Scored[]> {
  return model.ranker.rankUser(user, k, exclude, livePositives);
}

/** Items nearest to one item; the caller checks that the model has them (`model.similar`). */
export function similarItems(model: { similar: SimilarMovies | null }, item: number, k: number, exclude: ArrayLike<number>): Promise<Scored[]> {
  if (!model.similar) throw new Error("the model has no similar-items graph");
  return model.similar.rank(item, k, exclude);
}

function int64(ort: TensorMaker, values: ArrayLike<number>): Tensor {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
  return new ort.Tensor("int64", data, [values.length]);
}

/** Never more items than remain after exclusion (exclude holds no duplicates). */
const limitFor = (items: number, k: number, exclude: ArrayLike<number>): number => Math.max(0, Math.min(k, items - exclude.length));

/** Never more of the ranker's `items` than `allowed` holds outside `exclude` (which holds no duplicates). */
function maskedLimit(items: number, k: number, exclude: ArrayLike<number>, allowed: ItemMask): number {
  let left = countRows(allowed, items);
  for (let i = 0; i < exclude.length; i++) if (exclude[i] < items && hasRow(allowed, exclude[i])) left--;
  return Math.max(0, Math.min(k, left));
}

/**
 * `exclude` plus every item `allowed` does not hold, without duplicates: how the mask reaches the
 * ONNX graphs, whose exclusion sets scores to -inf before their TopK (an exact mask, in every
 * bundle ever exported; see docs/rules.md for why it is not a graph input of its own).
 */
function maskedExclusions(items: number, exclude: ArrayLike<number>, allowed: ItemMask): number[] {
  const out: number[] = [];
  for (let i = 0; i < exclude.length; i++) if (hasRow(allowed, exclude[i])) out.push(exclude[i]);
  for (let j = 0; j < items; j++) if (!hasRow(allowed, j)) out.push(j);
  return out;
}

type TopKGraph = { inputs: { k: string; exclude: string }; outputs: { scores: string; items: string } };

/** One top-K graph of the bundle: runs it with a query, k and the items to exclude. */
function topK(ort: TensorMaker, session: Session, graph: TopKGraph, items: number) {
  return async (query: Record<string, Tensor>, k: number, exclude: ArrayLike<number>, allowed: ItemMask | null = null): Promise<Scored[]> => {
    const limit = allowed ? maskedLimit(items, k, exclude, allowed) : limitFor(items, k, exclude);
    if (limit === 0) return [];
    const excluded = allowed ? maskedExclusions(items, exclude, allowed) : exclude;
    const out = await session.run({ ...query, [graph.inputs.k]: int64(ort, [limit]), [graph.inputs.exclude]: int64(ort, excluded) });
    const ranked = out[graph.outputs.items].data as BigInt64Array;
    const scores = out[graph.outputs.scores].data as Float32Array;
    return Array.from(ranked, (item, r) => ({ item: Number(item), score: scores[r] }));
  };
}

/** A history graph's query; a graph that also takes the user gets -1 for "not trained on". */
function historyQuery(ort: TensorMaker, session: Session) {
  const takesUser = session.inputNames.includes(RECS_GRAPH.inputs.query);
  return (user: number, history: ArrayLike<number>): Record<string, Tensor> => {
    const query: Record<string, Tensor> = { [FOLDIN_GRAPH.inputs.history]: int64(ort, history) };
    if (takesUser) query[RECS_GRAPH.inputs.query] = int64(ort, [user]);
    return query;
  };
}

/** The user's train history and live positives, without duplicates. */
function historyOf(user: UserSnapshot, livePositives: readonly number[]): number[] {
  if (!user.history) throw new Error("the model ranks histories but the user's history was not read");
  const history = new Set<number>(Array.from(user.history));
  for (const i of livePositives) history.add(i);
  return [...history];
}

const noFoldIn = (): Promise<Scored[]> => Promise.reject(new Error("the model has no fold-in graph"));

/**
 * model.onnx ranks known users from their vector (`history` false) or their history; `foldin`,
 * when the model has one, ranks a history alone (foldin.onnx, built on its first use, or
 * model.onnx itself when it takes histories: the same session).
 */
export function onnxRanker(ort: TensorMaker, items: number, recs: Session, history: boolean, foldin: (() => Promise<Session>) | null): Ranker {
  const rankRecs = topK(ort, recs, RECS_GRAPH, items);
  const recsHistory = historyQuery(ort, recs);
  let rankFoldIn: ((h: ArrayLike<number>, k: number, exclude: ArrayLike<number>, allowed: ItemMask | null) => Promise<Scored[]>) | null = null;
  const foldIn = async (h: ArrayLike<number>, k: number, exclude: ArrayLike<number>, allowed: ItemMask | null): Promise<Scored[]> => {
    if (!rankFoldIn) {
      const session = await foldin!();
      const rank = topK(ort, session, FOLDIN_GRAPH, items);
      const query = historyQuery(ort, session);
      rankFoldIn = (history, n, ex, mask) => rank(query(-1, history), n, ex, mask);
    }
    return rankFoldIn(h, k, exclude, allowed);
  };
  return {
    kind: "onnx",
    foldsIn: foldin !== null,
    rankUser(user, k, exclude, livePositives = [], allowed = null) {
      if (!history) return rankRecs({ [RECS_GRAPH.inputs.query]: int64(ort, [user.index]) }, k, exclude, allowed);
      return rankRecs(recsHistory(user.index, historyOf(user, livePositives)), k, exclude, allowed);
    },
    rankHistory: foldin ? (h, k, exclude, allowed = null) => foldIn(h, k, exclude, allowed) : noFoldIn,
  };
}

/** vector.onnx folds any history into a user vector, and the int8 kernel ranks every item against it. */
export function kernelRanker(ort: TensorMaker, items: number, vector: Session, kernel: Int8Ranker): Ranker {
  const rankHistory = async (history: ArrayLike<number>, k: number, exclude: ArrayLike<number>, allowed: ItemMask | null = null): Promise<Scored[]> => {
    const limit = allowed ? maskedLimit(items, k, exclude, allowed) : limitFor(items, k, exclude);
    if (limit === 0) return [];
    const out = await vector.run({ [VECTOR_GRAPH.inputs.history]: int64(ort, history) });
    // the kernel skips the rows the mask does not hold in its one pass
    return kernel.rank(out[VECTOR_GRAPH.outputs.vector].data as Float32Array, limit, exclude, allowed);
  };
  return {
    kind: "int8-kernel",
    foldsIn: true,
    rankUser: (user, k, exclude, livePositives = [], allowed = null) => rankHistory(historyOf(user, livePositives), k, exclude, allowed),
    rankHistory,
  };
}

function explainer(match: (items: readonly number[], history: ArrayLike<number>) => Promise<Match[]>): Explainer {
  return { explain: async (items, history) => (items.length === 0 || history.length === 0 ? null : match(items, history)) };
}

/** because.onnx: each item's most similar item of the history by cosine of the embeddings. */
export function onnxExplainer(ort: TensorMaker, because: Session): Explainer {
  return explainer(async (items, history) => {
    const out = await because.run({ [BECAUSE_GRAPH.inputs.items]: int64(ort, items), [BECAUSE_GRAPH.inputs.history]: int64(ort, history) });
    const position = out[BECAUSE_GRAPH.outputs.position].data as BigInt64Array;
    const similarity = out[BECAUSE_GRAPH.outputs.similarity].data as Float32Array;
    return items.map((_, r) => ({ position: Number(position[r]), similarity: similarity[r] }));
  });
}

/** The kernel over normalized.bin, the same table as because.onnx's: the same reasons, without a graph run. */
export function kernelExplainer(normalized: Int8Ranker): Explainer {
  return explainer(async (items, history) => normalized.bestMatches(items, history));
}

/** A bundle without item embeddings gives no reasons. */
export const noExplainer: Explainer = { explain: async () => null };

/** similar.onnx (built on its first use): the items nearest to one item. */
export function onnxSimilar(ort: TensorMaker, items: number, similar: () => Promise<Session>): SimilarMovies {
  let rank: ReturnType<typeof topK> | null = null;
  return {
    rank: async (item, k, exclude) => {
      rank ??= topK(ort, await similar(), SIMILAR_GRAPH, items);
      return rank({ [SIMILAR_GRAPH.inputs.query]: int64(ort, [item]) }, k, exclude);
    },
  };
}
