// The CSV releases (ML-20M and later), the synthetic generator with ML-32M's shape, and a user's
// own ratings file: all on fixtures generated here (no machine here can reach GroupLens).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { parseMoviesCsv, parseRatingsCsv } from "../src/data/csv.ts";
import { loadCustomDataset, parseColumnMap, DEFAULT_RATING_COLUMNS } from "../src/data/custom.ts";
import { DATASETS } from "../src/data/datasets.ts";
import { DatasetError, ensureDataset, publishedMd5 } from "../src/data/fetch.ts";
import { ParseError, loadDataset } from "../src/data/parse.ts";
import { writeSyntheticDataset } from "../src/data/synthetic.ts";
import { runPipeline } from "../src/pipeline/pipeline.ts";
import { PROTOCOLS, buildSplit } from "../src/protocol/protocols.ts";

const tmp = (): string => mkdtempSync(join(tmpdir(), "edgerec-csv-"));

function file(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("ratings.csv", () => {
  const text = "userId,movieId,rating,timestamp\r\n1,296,5.0,1147880044\r\n1,306,3.5,1147868817\n2,1,0.5,0\n2,7,4,1\n";

  it("parses half stars, CRLF and LF, and a rating without decimals, across any chunk boundary", async () => {
    const path = file(tmp(), "ratings.csv", text);
    for (const chunk of [1 << 20, 7, 1]) {
      const r = await parseRatingsCsv(path, chunk);
      expect(r.length).toBe(4);
      expect(Array.from(r.user)).toEqual([1, 1, 2, 2]);
      expect(Array.from(r.item)).toEqual([296, 306, 1, 7]);
      expect(Array.from(r.rating)).toEqual([5, 3.5, 0.5, 4]);
      expect(Array.from(r.timestamp)).toEqual([1147880044, 1147868817, 0, 1]);
    }
  });

  it.each([
    ["a rating that is not a half star", "userId,movieId,rating,timestamp\n1,2,3.5,9\n1,3,4.25,9\n", /ratings\.csv:3: rating 4\.25 is not a half star/],
    ["a rating above 5", "userId,movieId,rating,timestamp\n1,3,5.5,9\n", /:2: rating 5\.5 is not a half star/],
    ["a missing field", "userId,movieId,rating,timestamp\n1,3,4.0\n", /:2: expected "," after rating/],
    ["text in an id", "userId,movieId,rating,timestamp\n1,x,4.0,1\n", /:2: field 2 \(movieId\) is not a non-negative integer/],
    ["another header", "user,item,rating,ts\n1,2,4.0,1\n", /:1: expected the header "userId,movieId,rating,timestamp"/],
    ["an empty file", "", /:1: the file is empty/],
  ])("reports %s with the file and line", async (_, body, message) => {
    const path = file(tmp(), "ratings.csv", body);
    await expect(parseRatingsCsv(path, 5)).rejects.toThrow(ParseError);
    await expect(parseRatingsCsv(path, 5)).rejects.toThrow(message);
  });
});

describe("movies.csv", () => {
  it("reads quoted titles with commas and doubled quotes, and '(no genres listed)'", async () => {
    const path = file(
      tmp(),
      "movies.csv",
      'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n11,"American President, The (1995)",Comedy|Drama|Romance\n12,"Movie ""Quoted"" (2001)",(no genres listed)\n',
    );
    const movies = await parseMoviesCsv(path);
    expect(movies).toEqual([
      { movieId: 1, title: "Toy Story (1995)", year: 1995, genres: ["Adventure", "Animation"] },
      { movieId: 11, title: "American President, The (1995)", year: 1995, genres: ["Comedy", "Drama", "Romance"] },
      { movieId: 12, title: 'Movie "Quoted" (2001)', year: 2001, genres: [] },
    ]);
  });

  it("reports an unclosed quote and a bad id with the file and line", async () => {
    const dir = tmp();
    await expect(parseMoviesCsv(file(dir, "a.csv", 'movieId,title,genres\n1,"Open (1995),Drama\n'))).rejects.toThrow(/a\.csv:\d+: not valid CSV/);
    await expect(parseMoviesCsv(file(dir, "b.csv", "movieId,title,genres\n1,A (1995),Drama\nx,B (1996),Drama\n"))).rejects.toThrow(/b\.csv:3: movieId "x"/);
  });
});

describe("synthetic data with a release's shape", () => {
  const shape = { users: 300, movies: 800, ratings: 15_000 };

  it("writes exactly the counts asked for, every user with 20 or more distinct movies, half stars, heavy-tailed popularity", async () => {
    const dir = join(tmp(), "synthetic");
    writeSyntheticDataset(shape, dir, 5);
    const data = await loadDataset(DATASETS["synthetic-ml-32m"], dir);
    expect(data.ratings.length).toBe(shape.ratings);
    expect(data.duplicatesMerged).toBe(0);
    expect(data.movies).toHaveLength(shape.movies);
    expect(data.movies.some((m) => m.title.includes(","))).toBe(true);
    const perUser = new Map<number, number>();
    const perItem = new Int32Array(shape.movies + 1);
    for (let k = 0; k < data.ratings.length; k++) {
      perUser.set(data.ratings.user[k], (perUser.get(data.ratings.user[k]) ?? 0) + 1);
      perItem[data.ratings.item[k]]++;
      expect(Number.isInteger(data.ratings.rating[k] * 2)).toBe(true);
    }
    expect(perUser.size).toBe(shape.users);
    expect(Math.min(...perUser.values())).toBeGreaterThanOrEqual(20);
    // heavy tails: the most active users and the most popular tenth of the movies dominate
    expect(Math.max(...perUser.values())).toBeGreaterThan(4 * (shape.ratings / shape.users));
    const sorted = Array.from(perItem).sort((a, b) => b - a);
    const top = sorted.slice(0, shape.movies / 10).reduce((a, b) => a + b, 0);
    expect(top / shape.ratings).toBeGreaterThan(0.3);
    expect(readFileSync(join(dir, "SYNTHETIC.txt"), "utf8")).toMatch(/quality figures on this data mean nothing/);
  });

  it("is the same bytes for the same seed, and other bytes for another", () => {
    const digest = (seed: number): string => {
      const dir = join(tmp(), "s");
      writeSyntheticDataset(shape, dir, seed);
      return createHash("sha256")
        .update(readFileSync(join(dir, "ratings.csv")))
        .digest("hex");
    };
    expect(digest(9)).toBe(digest(9));
    expect(digest(9)).not.toBe(digest(10));
  });

  it("goes through the RecBole protocol like a MovieLens release", async () => {
    const dir = join(tmp(), "synthetic");
    writeSyntheticDataset(shape, dir, 1);
    const split = buildSplit(await loadDataset(DATASETS["synthetic-ml-32m"], dir), PROTOCOLS.recbole, 1);
    expect(split.counts.train + split.counts.valid + split.counts.test).toBe(split.counts.interactions);
    expect(split.counts.users).toBeGreaterThan(200);
  });
});

describe("the CSV releases from a folder or an archive", () => {
  function fixtureZip(): Uint8Array {
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
    return zipSync({
      "ml-32m/ratings.csv": enc("userId,movieId,rating,timestamp\n1,1,4.0,5\n"),
      "ml-32m/movies.csv": enc("movieId,title,genres\n1,A (1999),Drama\n"),
      "ml-32m/README.txt": enc("readme"),
      "ml-32m/tags.csv": enc("userId,movieId,tag,timestamp\n"),
    });
  }

  it("reads the md5 GroupLens publishes beside an archive, in either format", () => {
    expect(publishedMd5("6b51fb2759a8657d3bfcbfc42b592ada  ml-25m.zip\n", "x")).toBe("6b51fb2759a8657d3bfcbfc42b592ada");
    expect(publishedMd5("MD5 (ml-32m.zip) = D3B9C2A5A0E2CE3E5C0D6B44E0F1C2B1", "x")).toBe("d3b9c2a5a0e2ce3e5c0d6b44e0f1c2b1");
    expect(() => publishedMd5("<html>not found</html>", "ml-32m.zip.md5")).toThrow(/holds no md5/);
  });

  it("extracts an archive whose md5 matches its published checksum, keeping only the needed files", async () => {
    const from = tmp();
    const zip = fixtureZip();
    writeFileSync(join(from, "ml-32m.zip"), zip);
    writeFileSync(join(from, "ml-32m.zip.md5"), `${createHash("md5").update(zip).digest("hex")}  ml-32m.zip\n`);
    const dataDir = tmp();
    const dir = await ensureDataset(DATASETS["ml-32m"], { from, dataDir });
    expect(readdirSync(dir).sort()).toEqual(["README.txt", "movies.csv", "ratings.csv"]);
  });

  it("refuses an archive whose md5 does not match, or whose checksum file is missing, and keeps nothing", async () => {
    const from = tmp();
    writeFileSync(join(from, "ml-32m.zip"), fixtureZip());
    const dataDir = tmp();
    await expect(ensureDataset(DATASETS["ml-32m"], { from, dataDir })).rejects.toThrow(/ml-32m\.zip\.md5 is missing/);
    writeFileSync(join(from, "ml-32m.zip.md5"), "00000000000000000000000000000000  ml-32m.zip\n");
    await expect(ensureDataset(DATASETS["ml-32m"], { from, dataDir })).rejects.toThrow(DatasetError);
    expect(existsSync(join(dataDir, "ml-32m"))).toBe(false);
  });

  it("refuses a folder copy whose counts are not the release's", async () => {
    const from = tmp();
    mkdirSync(join(from, "ml-20m"));
    file(join(from, "ml-20m"), "ratings.csv", "userId,movieId,rating,timestamp\n1,1,4.0,5\n");
    file(join(from, "ml-20m"), "movies.csv", "movieId,title,genres\n1,A (1999),Drama\n");
    await expect(ensureDataset(DATASETS["ml-20m"], { from, dataDir: tmp() })).rejects.toThrow(/holds 1 ratings, the official ml-20m has 20,000,263/);
  });

  it("says how to make the synthetic dataset when it is missing", async () => {
    await expect(ensureDataset(DATASETS["synthetic-ml-32m"], { dataDir: tmp() })).rejects.toThrow(/npm run data -- --synthetic ml-32m/);
  });
});

describe("your own ratings file", () => {
  it("maps columns, numbers string ids in order of first appearance and keeps their keys", async () => {
    const dir = tmp();
    const ratings = file(dir, "shop.tsv", "customer\tsku\tstars\twhen\nalice\tA-1\t5\t100\nbob\tB-2\t2\t101\nalice\tB-2\t4\t102\n");
    const items = file(dir, "items.tsv", "sku\tname\ttags\nA-1\tKettle, steel\tkitchen|metal\nB-2\tMug\t\nC-3\tUnused\t\n");
    const data = await loadCustomDataset({
      ratings,
      items,
      columns: parseColumnMap("user=customer,item=sku,rating=stars,timestamp=when", DEFAULT_RATING_COLUMNS, "--columns"),
      itemColumns: { id: "sku", title: "name", genres: "tags" },
      delimiter: "\t",
    });
    expect(data.name).toBe("custom-shop");
    expect(data.implicit).toBe(false);
    expect(Array.from(data.ratings.user)).toEqual([1, 2, 1]);
    expect(Array.from(data.ratings.item)).toEqual([1, 2, 2]);
    expect(Array.from(data.ratings.rating)).toEqual([5, 2, 4]);
    expect(data.keys).toEqual({ users: ["alice", "bob"], items: ["A-1", "B-2"] });
    expect(data.movies).toEqual([
      { movieId: 1, title: "Kettle, steel", year: null, genres: ["kitchen", "metal"] },
      { movieId: 2, title: "Mug", year: null, genres: [] },
    ]);
  });

  it("keeps integer ids as they are, and reads a file without a rating column as implicit", async () => {
    const data = await loadCustomDataset({ ratings: file(tmp(), "clicks.csv", "userId,movieId\n10,7\n10,9\n3,7\n") });
    expect(data.implicit).toBe(true);
    expect(data.keys).toBeUndefined();
    expect(Array.from(data.ratings.user)).toEqual([10, 10, 3]);
    expect(data.movies.map((m) => m.title).sort()).toEqual(["7", "9"]);
  });

  it("lists every bad row with its file and line, and training writes nothing", async () => {
    const dir = tmp();
    const ratings = file(dir, "bad.csv", "userId,movieId,rating\n1,2,4\n1,,5\n2,3,lots\n3,4,2\n");
    await expect(loadCustomDataset({ ratings })).rejects.toThrow(
      /2 bad row\(s\) in .*bad\.csv; nothing was written:\n {2}.*bad\.csv:3: empty movieId\n {2}.*bad\.csv:4: rating "lots" is not a number/,
    );
    const artifacts = join(dir, "artifacts");
    await expect(
      runPipeline({ models: ["pop"], dataset: "ml-1m", custom: { ratings }, protocol: "recbole", seed: 1, dataDir: dir, artifacts, log: () => {} }),
    ).rejects.toThrow(/bad row/);
    expect(existsSync(artifacts)).toBe(false);
  });

  it("names the missing columns and how to map them", async () => {
    await expect(loadCustomDataset({ ratings: file(tmp(), "x.csv", "a,b\n1,2\n") })).rejects.toThrow(/no column "userId", "movieId".*--columns/);
    expect(() => parseColumnMap("person=a", DEFAULT_RATING_COLUMNS, "--columns")).toThrow(/"person=a" is not one of user=<column>/);
  });
});
