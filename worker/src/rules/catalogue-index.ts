// What a request's filters are built from: a bitset of the catalogue's movies per genre, each
// movie's year, and each movie's genre set as bits (diversity's similarity). Built once per loaded
// model, on its first request that needs it, and kept beside the model (a WeakMap: it goes when
// the model goes), so a request only combines bitsets. The catalogue is the model's served items,
// in internal order: the rows the ranker ranks.
import { genreBits } from "../../../training/src/shared/mmr.ts";
import { type ItemMask, addRow, emptyMask } from "../../../training/src/shared/item-mask.ts";
import type { MovieMeta } from "../../../training/src/contract/artifacts.ts";

export interface CatalogueIndex {
  /** Rows of the masks: the served catalogue's movies. */
  rows: number;
  /** Genre name as the catalogue spells it, by its lower case (requests match any case). */
  genreNames: Map<string, string>;
  /** A bitset of the movies of each genre, by the catalogue's spelling. */
  genres: Map<string, ItemMask>;
  /** Each movie's year; 0 for none (a movie without a year never passes a year filter). */
  years: Uint16Array;
  /** Each movie's genres as bits (see training/src/shared/mmr.ts). */
  genreSets: Uint32Array;
}

const built = new WeakMap<object, CatalogueIndex>();

/**
 * The index of `movies` (the model's catalogue), built on the first call for that array. A
 * catalogue that has grown since (movies added to a loaded model) is indexed again.
 */
export function catalogueIndex(movies: readonly MovieMeta[]): CatalogueIndex {
  const cached = built.get(movies);
  if (cached && cached.rows === movies.length) return cached;
  const index = buildIndex(movies);
  built.set(movies, index);
  return index;
}

function buildIndex(movies: readonly MovieMeta[]): CatalogueIndex {
  const rows = movies.length;
  const genres = new Map<string, ItemMask>();
  const years = new Uint16Array(rows);
  movies.forEach((m, j) => {
    years[j] = m.year ?? 0;
    for (const g of m.genres) {
      let mask = genres.get(g);
      if (!mask) {
        mask = emptyMask(rows);
        genres.set(g, mask);
      }
      addRow(mask, j);
    }
  });
  const names = [...genres.keys()].sort();
  return {
    rows,
    genreNames: new Map(names.map((g) => [g.toLowerCase(), g])),
    genres: new Map(names.map((g) => [g, genres.get(g) as ItemMask])),
    years,
    genreSets: genreBits(movies.map((m) => m.genres)).bits,
  };
}
