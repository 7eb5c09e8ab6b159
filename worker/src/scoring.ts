// Runs the exported ONNX top-K graphs, binding inputs and outputs by the contract's names.
import { BECAUSE_GRAPH, FOLDIN_GRAPH, RECS_GRAPH, SIMILAR_GRAPH, VECTOR_GRAPH, recsTakesHistory } from "../../training/src/contract/artifacts.ts";
import type { LoadedModel } from "./model-store.ts";
import type { UserSnapshot } from "./user-store.ts";

export type { Scored } from "./int8-ranker.ts";
import type { Scored } from "./int8-ranker.ts";

type Session = import("onnxruntime-web").InferenceSession;
type Tensor = InstanceType<LoadedModel["ort"]["Tensor"]>;

function int64(model: LoadedModel, values: ArrayLike<number>): Tensor {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
  return new model.ort.Tensor("int64", data, [values.length]);
}

/** Never more items than remain after exclusion (exclude holds no duplicates). */
const limitFor = (model: LoadedModel, k: number, exclude: ArrayLike<number>): number => Math.max(0, Math.min(k, model.manifest.items - exclude.length));

async function rank(
  model: LoadedModel,
  session: Session,
  graph: { inputs: { k: string; exclude: string }; outputs: { scores: string; items: string } },
  query: Record<string, Tensor>,
  k: number,
  exclude: ArrayLike<number>,
): Promise<Scored[]> {
  const limit = limitFor(model, k, exclude);
  if (limit === 0) return [];
  const out = await session.run({ ...query, [graph.inputs.k]: int64(model, [limit]), [graph.inputs.exclude]: int64(model, exclude) });
  const items = out[graph.outputs.items].data as BigInt64Array;
  const scores = out[graph.outputs.scores].data as Float32Array;
  return Array.from(items, (item, r) => ({ item: Number(item), score: scores[r] }));
}

/**
 * A known user's top k from model.onnx: by the trained user vector, or by the user's train
 * history plus `livePositives` when the graph ranks histories (then live ratings count at once).
 */
export function recsForUser(
  model: LoadedModel,
  user: UserSnapshot,
  k: number,
  exclude: ArrayLike<number>,
  livePositives: readonly number[] = [],
): Promise<Scored[]> {
  if (!recsTakesHistory(model.recsFrom)) {
    if (!model.recs) throw new Error("the model ranks users by their vectors but has no model.onnx session");
    return rank(model, model.recs, RECS_GRAPH, { [RECS_GRAPH.inputs.query]: int64(model, [user.index]) }, k, exclude);
  }
  if (!user.history) throw new Error("the model ranks histories but the user's history was not read");
  const history = new Set<number>(Array.from(user.history));
  for (const i of livePositives) history.add(i);
  if (model.kernel) return rankByKernel(model, model.kernel, [...history], k, exclude);
  if (!model.recs) throw new Error("the model has neither model.onnx nor the int8 kernel");
  return rank(model, model.recs, RECS_GRAPH, historyQuery(model, model.recs, user.index, [...history]), k, exclude);
}

/** The history's user vector from vector.onnx, then every item ranked by the int8 kernel. */
async function rankByKernel(
  model: LoadedModel,
  kernel: NonNullable<LoadedModel["kernel"]>,
  history: ArrayLike<number>,
  k: number,
  exclude: ArrayLike<number>,
): Promise<Scored[]> {
  const limit = limitFor(model, k, exclude);
  if (limit === 0) return [];
  const out = await kernel.vector.run({ [VECTOR_GRAPH.inputs.history]: int64(model, history) });
  return kernel.ranker.rank(out[VECTOR_GRAPH.outputs.vector].data as Float32Array, limit, exclude);
}

/** A history graph's query; a graph that also takes the user gets -1 for "not trained on". */
function historyQuery(model: LoadedModel, session: Session, user: number, history: ArrayLike<number>): Record<string, Tensor> {
  const query: Record<string, Tensor> = { [FOLDIN_GRAPH.inputs.history]: int64(model, history) };
  if (session.inputNames.includes(RECS_GRAPH.inputs.query)) query[RECS_GRAPH.inputs.query] = int64(model, [user]);
  return query;
}

/** Items nearest to one item (similar.onnx); the caller checks that the bundle has the graph. */
export function similarItems(model: LoadedModel, item: number, k: number, exclude: ArrayLike<number>): Promise<Scored[]> {
  if (!model.similar) throw new Error("the model has no similar-items graph");
  return rank(model, model.similar, SIMILAR_GRAPH, { [SIMILAR_GRAPH.inputs.query]: int64(model, [item]) }, k, exclude);
}

/** Whether the model ranks a history: by a fold-in graph, or by the int8 kernel. */
export const foldsIn = (model: LoadedModel): boolean => model.foldin !== null || model.kernel !== null;

/** Top k for a history of items by the model's fold-in (foldin.onnx); history has no duplicates. */
export function recsForHistory(model: LoadedModel, history: ArrayLike<number>, k: number, exclude: ArrayLike<number>): Promise<Scored[]> {
  if (model.kernel) return rankByKernel(model, model.kernel, history, k, exclude);
  if (!model.foldin) throw new Error("the model has no fold-in graph");
  return rank(model, model.foldin, FOLDIN_GRAPH, historyQuery(model, model.foldin, -1, history), k, exclude);
}

/**
 * For each item, the most similar item of the history (because.onnx, or the kernel over
 * normalized.bin): its position in `history`
 * and the cosine. Null when the bundle has no such graph or there is nothing to compare.
 */
export async function mostSimilarInHistory(
  model: LoadedModel,
  items: number[],
  history: ArrayLike<number>,
): Promise<{ position: number; similarity: number }[] | null> {
  if (items.length === 0 || history.length === 0) return null;
  // the kernel's copy of because.onnx's table: the same reasons, without a graph run
  if (model.kernel?.reasons) return model.kernel.reasons.bestMatches(items, history);
  if (!model.because) return null;
  const out = await model.because.run({ [BECAUSE_GRAPH.inputs.items]: int64(model, items), [BECAUSE_GRAPH.inputs.history]: int64(model, history) });
  const position = out[BECAUSE_GRAPH.outputs.position].data as BigInt64Array;
  const similarity = out[BECAUSE_GRAPH.outputs.similarity].data as Float32Array;
  return items.map((_, k) => ({ position: Number(position[k]), similarity: similarity[k] }));
}
