// Title search over the catalogue: case- and accent-insensitive, with MovieLens's trailing
// articles ("Matrix, The (1999)") read as leading ones, ranked by how the query matches (the
// title starts with it, then a word of the title starts with it, then it appears anywhere) and
// then by popularity (how many users rated the movie).
import type { MovieMeta } from "../../training/src/contract/artifacts.ts";

export interface SearchIndex {
  /** Per movie: its normalized title with the article in front, and without any leading article. */
  full: string[];
  bare: string[];
  /** Per movie: users who rated it (ties in the ranking go to the more popular movie). */
  popularity: Uint32Array;
}

const ARTICLES = /^(the|a|an|la|le|les|el|il|das|der|die) /;

/** Lowercase, accents removed, punctuation to single spaces. */
export function normalize(text: string): string {
  return text
    .normalize("NFD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim();
}

/** "Matrix, The (1999)" -> "the matrix"; alternative titles in parentheses are kept as words. */
function fullTitle(title: string): string {
  const withoutYear = title.replace(/\s*\(\d{4}\)\s*$/, "");
  const moved = withoutYear.replace(/^(.*), (The|A|An|La|Le|Les|El|Il|Das|Der|Die)(\s*\(.*\))?$/, "$2 $1$3");
  return normalize(moved);
}

/** `popularity`: users who rated each movie, in internal item order. */
export function buildSearchIndex(movies: MovieMeta[], popularity: Uint32Array): SearchIndex {
  const full = movies.map((m) => fullTitle(m.title));
  return { full, bare: full.map((t) => t.replace(ARTICLES, "")), popularity };
}

/** Internal indices of the best `limit` matches for `query` (empty when nothing matches). */
export function searchTitles(index: SearchIndex, query: string, limit: number): number[] {
  const q = normalize(query).replace(ARTICLES, "");
  if (q === "") return [];
  const matches: { item: number; rank: number }[] = [];
  for (let i = 0; i < index.full.length; i++) {
    const bare = index.bare[i];
    let rank = -1;
    if (bare.startsWith(q) || index.full[i].startsWith(q)) rank = 0;
    else if (` ${index.full[i]}`.includes(` ${q}`)) rank = 1;
    else if (index.full[i].includes(q)) rank = 2;
    if (rank >= 0) matches.push({ item: i, rank });
  }
  matches.sort((a, b) => a.rank - b.rank || index.popularity[b.item] - index.popularity[a.item] || a.item - b.item);
  return matches.slice(0, limit).map((m) => m.item);
}
