// A request's filters (genres, excludeGenres, yearMin, yearMax, exclude, include) as one mask
// over the served catalogue, built once per request from the catalogue index's bitsets. Ranking
// takes the mask itself (the int8 kernel reads it, the ONNX graphs get it before their top-K),
// so every returned movie passes and k come back whenever k pass. Diversity re-ranks after.
import { ApiError } from "../errors.ts";
import { type ItemMask, fullMask, intersect, removeRow, unite, emptyMask, addRow } from "../../../training/src/shared/item-mask.ts";
import type { CatalogueIndex } from "./catalogue-index.ts";

/** The filters as the API takes them (query or body), already checked for shape. */
export interface RecsFilter {
  /** Any of these genres (names as the catalogue spells them, any case). */
  genres?: readonly string[];
  /** None of these genres. */
  excludeGenres?: readonly string[];
  yearMin?: number;
  yearMax?: number;
  /** Movie ids never to return (besides what the user rated). */
  exclude?: readonly number[];
  /** Rank only these movie ids (unknown ids are left out). */
  include?: readonly number[];
}

/** Whether any filter is set (an empty list sets nothing). */
export function hasFilter(f: RecsFilter): boolean {
  return (
    (f.genres?.length ?? 0) > 0 ||
    (f.excludeGenres?.length ?? 0) > 0 ||
    f.yearMin !== undefined ||
    f.yearMax !== undefined ||
    (f.exclude?.length ?? 0) > 0 ||
    f.include !== undefined
  );
}

/** The catalogue's genre masks for `names`; an unknown name is a 400 that lists the valid ones. */
function genreMasks(index: CatalogueIndex, names: readonly string[], field: string): ItemMask[] {
  return names.map((name) => {
    const spelled = index.genreNames.get(name.trim().toLowerCase());
    if (spelled === undefined) {
      const valid = [...index.genres.keys()].join(", ");
      throw new ApiError(400, "bad_request", `${field}: unknown genre ${JSON.stringify(name)}; the served catalogue's genres are ${valid}`);
    }
    return index.genres.get(spelled) as ItemMask;
  });
}

/**
 * The rows that pass `f`, or null when `f` filters nothing (the ranker then skips the mask).
 * `itemIndex` maps movie ids to rows (exclude and include name movie ids).
 */
export function filterMask(index: CatalogueIndex, itemIndex: ReadonlyMap<number, number>, f: RecsFilter): ItemMask | null {
  if (!hasFilter(f)) return null;
  if (f.yearMin !== undefined && f.yearMax !== undefined && f.yearMin > f.yearMax)
    throw new ApiError(400, "bad_request", `yearMin (${f.yearMin}) is after yearMax (${f.yearMax}); give a range whose start is not after its end`);
  // both genre lists are checked before anything is built: a bad name is reported whatever else is wrong
  const anyOf = f.genres && f.genres.length > 0 ? genreMasks(index, f.genres, "genres") : null;
  const noneOf = f.excludeGenres && f.excludeGenres.length > 0 ? genreMasks(index, f.excludeGenres, "excludeGenres") : null;
  let mask: ItemMask;
  if (f.include !== undefined) {
    mask = emptyMask(index.rows);
    for (const id of f.include) {
      const j = itemIndex.get(id);
      if (j !== undefined && j < index.rows) addRow(mask, j);
    }
  } else mask = fullMask(index.rows);
  if (anyOf) {
    const union = emptyMask(index.rows);
    for (const g of anyOf) unite(union, g);
    intersect(mask, union);
  }
  if (noneOf) for (const g of noneOf) for (let b = 0; b < mask.length; b++) mask[b] &= ~g[b];
  if (f.yearMin !== undefined || f.yearMax !== undefined) {
    const lo = f.yearMin ?? 1;
    const hi = f.yearMax ?? 65535;
    const { years } = index;
    for (let j = 0; j < index.rows; j++) {
      const y = years[j];
      if (y === 0 || y < lo || y > hi) removeRow(mask, j);
    }
  }
  for (const id of f.exclude ?? []) {
    const j = itemIndex.get(id);
    if (j !== undefined && j < index.rows) removeRow(mask, j);
  }
  return mask;
}
