// A request's `diversity` in [0, 1]: the ranker's best MMR_POOL movies re-ranked by maximal
// marginal relevance with genre similarity (training/src/shared/mmr.ts, the code the offline table
// in docs/rules.md was measured with). 0 leaves the list as ranked.
import { genreSimilarity, mmr } from "../../../training/src/shared/mmr.ts";
import type { Scored } from "../../../training/src/shared/int8-ranker.ts";
import type { CatalogueIndex } from "./catalogue-index.ts";

export { MMR_POOL } from "../../../training/src/shared/mmr.ts";

/** The best k of `ranked` (best first, MMR_POOL or fewer) re-ranked for `diversity`. */
export function diversify(index: CatalogueIndex, ranked: readonly Scored[], k: number, diversity: number): Scored[] {
  const sets = index.genreSets;
  return mmr(ranked, k, diversity, (a, b) => genreSimilarity(sets[ranked[a].item], sets[ranked[b].item]));
}
