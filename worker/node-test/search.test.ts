// Title search: case, accents and MovieLens's trailing articles handled; prefix matches first,
// then word matches, then anything containing the query; popularity breaks ties.
import { describe, expect, it } from "vitest";
import type { MovieMeta } from "../../training/src/contract/artifacts.ts";
import { buildSearchIndex, normalize, searchTitles } from "../src/search.ts";

const titles = [
  "Matrix, The (1999)",
  "Toy Story (1995)",
  "Toy Soldiers (1991)",
  "Cité des enfants perdus, La (1995)",
  "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)",
  "Story of Us, The (1999)",
  "Big (1988)",
];
const movies: MovieMeta[] = titles.map((title, i) => ({ movieId: i + 1, title, year: null, genres: [] }));
// popularity: Toy Soldiers (2) is rated by more users than Toy Story (1)
const counts = [5, 1, 3, 1, 2, 1, 1];
const index = buildSearchIndex(movies, Uint32Array.from(counts));
const search = (q: string, limit = 10) => searchTitles(index, q, limit).map((i) => movies[i].title);

describe("title search", () => {
  it("reads a trailing article as a leading one, with or without it in the query", () => {
    expect(search("the matrix")[0]).toBe("Matrix, The (1999)");
    expect(search("Matrix")[0]).toBe("Matrix, The (1999)");
    expect(search("la cite")[0]).toBe("Cité des enfants perdus, La (1995)");
  });

  it("ignores case and accents", () => {
    expect(search("AMELIE")).toEqual(["Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)"]);
    expect(search("cité")).toEqual(search("cite"));
    expect(normalize("Ça  va, Amélie!")).toBe("ca va amelie");
  });

  it("ranks prefix matches, then word matches, then substrings, then by popularity", () => {
    expect(search("toy")).toEqual(["Toy Soldiers (1991)", "Toy Story (1995)"]);
    expect(search("story")).toEqual(["Story of Us, The (1999)", "Toy Story (1995)"]);
    expect(search("ig")).toEqual(["Big (1988)"]);
    expect(search("toy", 1)).toEqual(["Toy Soldiers (1991)"]);
  });

  it("finds nothing for a query of punctuation or an unknown title", () => {
    expect(search("!!")).toEqual([]);
    expect(search("zzz")).toEqual([]);
  });
});
