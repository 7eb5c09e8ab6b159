// Runs the exported ONNX top-K graphs for one query row.
import type { LoadedModel } from "./model-store.ts";

export interface Scored {
  item: number;
  score: number;
}

export async function topK(model: LoadedModel, graph: "recs" | "similar", query: number, k: number, exclude: ArrayLike<number>): Promise<Scored[]> {
  const { Tensor } = model.ort;
  const int64 = (values: ArrayLike<number>): InstanceType<typeof Tensor> => {
    const data = new BigInt64Array(values.length);
    for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i]);
    return new Tensor("int64", data, [values.length]);
  };
  const session = graph === "recs" ? model.recs : model.similar;
  const [queryName, kName, excludeName] = session.inputNames;
  // never ask for more items than remain after exclusion
  const limit = Math.max(0, Math.min(k, model.manifest.items - exclude.length));
  if (limit === 0) return [];
  const out = await session.run({ [queryName]: int64([query]), [kName]: int64([limit]), [excludeName]: int64(exclude) });
  const items = out.items.data as BigInt64Array;
  const scores = out.scores.data as Float32Array;
  return Array.from(items, (item, r) => ({ item: Number(item), score: scores[r] }));
}

/** The user's rated movies (internal item indices). */
export function ratedItems(model: LoadedModel, user: number): Uint16Array | Uint32Array {
  const { indptr, indices } = model.rated;
  return indices.subarray(indptr[user], indptr[user + 1]);
}
