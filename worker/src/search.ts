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

/** A title matching a query: its index and how (0: starts with it, 1: a word does, 2: anywhere). */
export interface Match {
  item: number;
  rank: number;
}

/** Every match for `query`, unordered (none when the query is empty after normalizing). */
export function matchTitles(index: SearchIndex, query: string): Match[] {
  const q = normalize(query).replace(ARTICLES, "");
  if (q === "") return [];
  const matches: Match[] = [];
  for (let i = 0; i < index.full.length; i++) {
    const bare = index.bare[i];
    let rank = -1;
    if (bare.startsWith(q) || index.full[i].startsWith(q)) rank = 0;
    else if (` ${index.full[i]}`.includes(` ${q}`)) rank = 1;
    else if (index.full[i].includes(q)) rank = 2;
    if (rank >= 0) matches.push({ item: i, rank });
  }
  return matches;
}

/** Internal indices of the best `limit` matches for `query` (empty when nothing matches). */
export function searchTitles(index: SearchIndex, query: string, limit: number): number[] {
  const matches = matchTitles(index, query);
  matches.sort((a, b) => a.rank - b.rank || index.popularity[b.item] - index.popularity[a.item] || a.item - b.item);
  return matches.slice(0, limit).map((m) => m.item);
}

/**
 * The bundle's catalogue and the live one searched as one: the best `limit` movies, ranked as
 * searchTitles ranks (how the title matches, then popularity, then the bundle's movies first).
 * A live entry for a bundle movie replaces it (a corrected title is found by the new title only).
 */
export function searchWithLive(index: SearchIndex, movies: readonly MovieMeta[], live: readonly MovieMeta[], query: string, limit: number): MovieMeta[] {
  const replaced = new Set(live.map((m) => m.movieId));
  const bundleIndex = new Map<number, number>();
  const liveIndex = buildSearchIndex(
    [...live],
    Uint32Array.from(live, (m) => {
      const i = movies.findIndex((b) => b.movieId === m.movieId);
      if (i >= 0) bundleIndex.set(m.movieId, i);
      return i >= 0 ? index.popularity[i] : 0;
    }),
  );
  type Hit = { movie: MovieMeta; rank: number; popularity: number; order: number };
  const hits: Hit[] = [];
  for (const m of matchTitles(index, query))
    if (!replaced.has(movies[m.item].movieId)) hits.push({ movie: movies[m.item], rank: m.rank, popularity: index.popularity[m.item], order: m.item });
  for (const m of matchTitles(liveIndex, query))
    hits.push({
      movie: live[m.item],
      rank: m.rank,
      popularity: liveIndex.popularity[m.item],
      order: bundleIndex.get(live[m.item].movieId) ?? movies.length + m.item,
    });
  hits.sort((a, b) => a.rank - b.rank || b.popularity - a.popularity || a.order - b.order);
  return hits.slice(0, limit).map((h) => h.movie);
}
