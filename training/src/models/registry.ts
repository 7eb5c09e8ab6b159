import { blend } from "./blend.ts";
import { ease } from "./ease.ts";
import { itemknn } from "./itemknn.ts";
import { lightgcn, mf } from "./lightgcn.ts";
import { ngcf } from "./ngcf.ts";
import { ials } from "./ials.ts";
import { puresvd } from "./puresvd.ts";
import { svd } from "./svd.ts";
import { pop } from "./pop.ts";
import type { ModelFactory } from "./recommender.ts";

export const MODELS: readonly ModelFactory[] = [pop, itemknn, puresvd, svd, ials, ease, mf, ngcf, lightgcn, blend];

export function modelFactory(name: string): ModelFactory {
  const m = MODELS.find((f) => f.name === name);
  if (!m) throw new Error(`unknown model "${name}": choose one of ${MODELS.map((f) => f.name).join(", ")}`);
  return m;
}
