import { describe, expect, it } from "vitest";
import { ParseError, mergeDuplicateRatings, parseMoviesDat, parseRatings, parseUItem, parseUsersDat } from "../src/data/parse.ts";

const bytes = (s: string): Uint8Array => Buffer.from(s, "latin1");

describe("parseRatings", () => {
  it("parses ML-1M lines into typed columns", () => {
    const r = parseRatings(bytes("1::1193::5::978300760\n1::661::3::0\r\n2::3408::4::978300275\n"), "ratings.dat", "::");
    expect(r.length).toBe(3);
    expect(Array.from(r.user)).toEqual([1, 1, 2]);
    expect(Array.from(r.item)).toEqual([1193, 661, 3408]);
    expect(Array.from(r.rating)).toEqual([5, 3, 4]);
    expect(Array.from(r.timestamp)).toEqual([978300760, 0, 978300275]);
  });

  it("merges a repeated (user, movie) pair into one row, keeping the later line", () => {
    const r = parseRatings(Buffer.from("1::10::5::100\n1::20::3::101\n2::10::4::102\n1::10::2::103\n"), "ratings.dat", "::");
    const { ratings, merged } = mergeDuplicateRatings(r);
    expect(merged).toBe(1);
    expect(Array.from(ratings.user)).toEqual([1, 2, 1]);
    expect(Array.from(ratings.item)).toEqual([20, 10, 10]);
    expect(Array.from(ratings.rating)).toEqual([3, 4, 2]);
    expect(mergeDuplicateRatings(ratings).merged).toBe(0);
  });

  it("parses ML-100K tab-separated lines", () => {
    const r = parseRatings(bytes("196\t242\t3\t881250949\n186\t302\t3\t891717742"), "u.data", "\t");
    expect(r.length).toBe(2);
    expect(r.item[1]).toBe(302);
  });

  const bad: [string, RegExp][] = [
    ["1::2::3::4\n1::x::3::4\n", /ratings\.dat:2: field 2 \(MovieID\) is not a non-negative integer/],
    ["1::2::3::4\n1::2::9::4\n", /ratings\.dat:2: rating 9 is outside 1\.\.5/],
    ["1::2::3\n", /ratings\.dat:1: expected "::" after Rating/],
    ["1::2::3::4::5\n", /ratings\.dat:1: unexpected text after the timestamp/],
    ["1:2::3::4\n", /ratings\.dat:1: expected "::" after UserID/],
    ["0::2::3::4\n", /ratings\.dat:1: ids start at 1/],
  ];
  for (const [text, message] of bad) {
    it(`rejects ${JSON.stringify(text.trim())} with file, line and problem`, () => {
      expect(() => parseRatings(bytes(text), "ratings.dat", "::")).toThrow(ParseError);
      expect(() => parseRatings(bytes(text), "ratings.dat", "::")).toThrow(message);
    });
  }
});

describe("movies and users", () => {
  it("keeps title, year and genres of movies.dat, decoding latin-1", () => {
    const m = parseMoviesDat(bytes("1::Toy Story (1995)::Animation|Children's|Comedy\n73::Misérables, Les (1995)::Drama\n"), "movies.dat");
    expect(m).toEqual([
      { movieId: 1, title: "Toy Story (1995)", year: 1995, genres: ["Animation", "Children's", "Comedy"] },
      { movieId: 73, title: "Misérables, Les (1995)", year: 1995, genres: ["Drama"] },
    ]);
  });

  it("rejects a movies.dat line without three fields", () => {
    expect(() => parseMoviesDat(bytes("1::Toy Story (1995)\n"), "movies.dat")).toThrow(/movies\.dat:1: expected 3 fields/);
  });

  it("maps u.item genre flags to names", () => {
    const line = `1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n`;
    expect(parseUItem(bytes(line), "u.item")).toEqual([{ movieId: 1, title: "Toy Story (1995)", year: 1995, genres: ["Animation", "Children's", "Comedy"] }]);
    expect(() => parseUItem(bytes("1|x|y\n"), "u.item")).toThrow(/u\.item:1: expected 24 fields/);
  });

  it("parses users.dat", () => {
    expect(parseUsersDat(bytes("1::F::1::10::48067\n"), "users.dat")).toEqual([{ userId: 1, gender: "F", age: 1, occupation: "10", zip: "48067" }]);
    expect(() => parseUsersDat(bytes("1::F::1\n"), "users.dat")).toThrow(/users\.dat:1: expected 5 fields/);
  });
});
