// Parsers for the MovieLens file formats. Ratings are parsed straight from bytes into typed
// columns (1M lines in well under a second); every malformed line fails with the file, the
// line number and what was wrong.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseMoviesCsv, parseRatingsCsv } from "./csv.ts";
import type { DatasetSpec } from "./datasets.ts";
import { ML100K_GENRES } from "../contract/genres.ts";

export interface RatingTable {
  length: number;
  user: Int32Array;
  item: Int32Array;
  /** Stars: integers 1..5 in ML-1M and ML-100K, half stars 0.5..5 in the CSV releases; 0 in implicit data. */
  rating: Float32Array;
  timestamp: Int32Array;
}

export interface Movie {
  movieId: number;
  title: string;
  year: number | null;
  genres: string[];
}

export interface User {
  userId: number;
  gender: string;
  age: number;
  occupation: string;
  zip: string;
}

export interface Dataset {
  /** A MovieLens dataset's name, or a name for a user's own ratings file. */
  name: string;
  ratings: RatingTable;
  movies: Movie[];
  /** Demographics, where the release has them (ML-1M, ML-100K). */
  users: User[];
  /** Rows dropped because the same (user, movie) pair came again (the last one is kept). */
  duplicatesMerged?: number;
  /** No ratings, only interactions: every row is a positive (a user's own data without a rating column). */
  implicit?: boolean;
  /**
   * The original ids when a user's own file used ids that are not positive integers: ids are
   * then numbered 1..n in order of first appearance, and keys[n - 1] is the original of id n.
   */
  keys?: { users: string[] | null; items: string[] | null };
}

/**
 * One row per (user, movie): a pair that appears again replaces the earlier row (the later
 * line wins), so a repeated row never becomes a second training positive or exclusion. Linear
 * in the rows (a counting sort by user, then one stamp per item), for 32M-row files.
 */
export function mergeDuplicateRatings(r: RatingTable): { ratings: RatingTable; merged: number } {
  let maxUser = 0;
  let maxItem = 0;
  for (let k = 0; k < r.length; k++) {
    if (r.user[k] > maxUser) maxUser = r.user[k];
    if (r.item[k] > maxItem) maxItem = r.item[k];
  }
  // rows grouped by user, each group in file order
  const start = new Int32Array(maxUser + 2);
  for (let k = 0; k < r.length; k++) start[r.user[k] + 1]++;
  for (let u = 0; u <= maxUser; u++) start[u + 1] += start[u];
  const order = new Int32Array(r.length);
  const fill = start.slice(0, maxUser + 1);
  for (let k = 0; k < r.length; k++) order[fill[r.user[k]]++] = k;
  const stamp = new Int32Array(maxItem + 1).fill(-1);
  const lastRow = new Int32Array(maxItem + 1);
  const dropped = new Uint8Array(r.length);
  let merged = 0;
  for (let u = 0; u <= maxUser; u++) {
    for (let p = start[u]; p < start[u + 1]; p++) {
      const k = order[p];
      const i = r.item[k];
      if (stamp[i] === u) {
        dropped[lastRow[i]] = 1;
        merged++;
      }
      stamp[i] = u;
      lastRow[i] = k;
    }
  }
  if (merged === 0) return { ratings: r, merged: 0 };
  const keep = new Int32Array(r.length - merged);
  for (let k = 0, n = 0; k < r.length; k++) if (!dropped[k]) keep[n++] = k;
  return {
    ratings: {
      length: keep.length,
      user: keep.map((k) => r.user[k]),
      item: keep.map((k) => r.item[k]),
      rating: Float32Array.from(keep, (k) => r.rating[k]),
      timestamp: keep.map((k) => r.timestamp[k]),
    },
    merged,
  };
}

export class ParseError extends Error {
  override name = "ParseError";
  constructor(
    readonly file: string,
    readonly line: number,
    problem: string,
    text?: string,
  ) {
    super(`${file}:${line}: ${problem}${text === undefined ? "" : ` in line "${text.length > 120 ? `${text.slice(0, 120)}...` : text}"`}`);
  }
}

const NEWLINE = 10;
const CR = 13;

function lineText(buf: Uint8Array, start: number): string {
  let end = start;
  while (end < buf.length && buf[end] !== NEWLINE) end++;
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start)
    .toString("latin1")
    .replace(/\r$/, "");
}

/**
 * Parses `user SEP item SEP rating SEP timestamp` lines (ML-1M: "::", ML-100K: tab).
 * Ratings must be integers 1..5; ids positive integers.
 */
export function parseRatings(buf: Uint8Array, file: string, sep: string): RatingTable {
  let lines = 1;
  for (let i = 0; i < buf.length; i++) if (buf[i] === NEWLINE) lines++;
  const user = new Int32Array(lines);
  const item = new Int32Array(lines);
  const rating = new Float32Array(lines);
  const timestamp = new Int32Array(lines);
  const sepBytes = Buffer.from(sep, "latin1");
  const fields = [user, item, null, timestamp] as const;
  const names = ["UserID", "MovieID", "Rating", "Timestamp"];

  let n = 0;
  let pos = 0;
  let lineNo = 0;
  while (pos < buf.length) {
    lineNo++;
    const lineStart = pos;
    if (buf[pos] === NEWLINE || (buf[pos] === CR && buf[pos + 1] === NEWLINE)) {
      pos += buf[pos] === CR ? 2 : 1;
      continue; // blank line (the file's trailing newline)
    }
    for (let f = 0; f < 4; f++) {
      let value = 0;
      let digits = 0;
      while (pos < buf.length) {
        const c = buf[pos] - 48;
        if (c < 0 || c > 9) break;
        value = value * 10 + c;
        digits++;
        pos++;
      }
      if (digits === 0) {
        throw new ParseError(file, lineNo, `field ${f + 1} (${names[f]}) is not a non-negative integer`, lineText(buf, lineStart));
      }
      if (value > 2147483647) throw new ParseError(file, lineNo, `${names[f]} ${value} is out of range`, lineText(buf, lineStart));
      if (f < 3) {
        for (let s = 0; s < sepBytes.length; s++) {
          if (buf[pos + s] !== sepBytes[s]) {
            throw new ParseError(file, lineNo, `expected ${JSON.stringify(sep)} after ${names[f]} (4 fields: ${names.join(sep)})`, lineText(buf, lineStart));
          }
        }
        pos += sepBytes.length;
      }
      const column = fields[f];
      if (column) column[n] = value;
      else {
        if (value < 1 || value > 5) throw new ParseError(file, lineNo, `rating ${value} is outside 1..5`, lineText(buf, lineStart));
        rating[n] = value;
      }
    }
    if (pos < buf.length && buf[pos] === CR) pos++;
    if (pos < buf.length && buf[pos] !== NEWLINE) {
      throw new ParseError(file, lineNo, "unexpected text after the timestamp (4 fields expected)", lineText(buf, lineStart));
    }
    if (user[n] === 0 || item[n] === 0) throw new ParseError(file, lineNo, "ids start at 1", lineText(buf, lineStart));
    pos++;
    n++;
  }
  return { length: n, user: user.subarray(0, n), item: item.subarray(0, n), rating: rating.subarray(0, n), timestamp: timestamp.subarray(0, n) };
}

function textLines(buf: Uint8Array): string[] {
  // MovieLens metadata is latin-1 encoded.
  const lines = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString("latin1").split("\n");
  return lines.map((l) => l.replace(/\r$/, ""));
}

function positiveInt(text: string, file: string, line: number, what: string, raw: string): number {
  if (!/^\d+$/.test(text) || Number(text) === 0) throw new ParseError(file, line, `${what} "${text}" is not a positive integer`, raw);
  return Number(text);
}

/** "Toy Story (1995)" -> title "Toy Story (1995)", year 1995. Titles keep their year, as MovieLens shows them. */
function yearOf(title: string): number | null {
  const m = /\((\d{4})\)\s*$/.exec(title);
  return m ? Number(m[1]) : null;
}

/** ML-1M movies.dat: `MovieID::Title (Year)::Genre|Genre`. */
export function parseMoviesDat(buf: Uint8Array, file: string): Movie[] {
  const movies: Movie[] = [];
  textLines(buf).forEach((raw, i) => {
    if (raw === "") return;
    const parts = raw.split("::");
    if (parts.length !== 3) throw new ParseError(file, i + 1, `expected 3 fields MovieID::Title::Genres, found ${parts.length}`, raw);
    const title = parts[1].trim();
    if (title === "") throw new ParseError(file, i + 1, "empty title", raw);
    movies.push({
      movieId: positiveInt(parts[0], file, i + 1, "MovieID", raw),
      title,
      year: yearOf(title),
      genres: parts[2] === "" ? [] : parts[2].split("|"),
    });
  });
  return movies;
}

/** ML-100K u.item: `id|title|release date|video release date|IMDb URL|19 genre flags`. */
export function parseUItem(buf: Uint8Array, file: string): Movie[] {
  const movies: Movie[] = [];
  textLines(buf).forEach((raw, i) => {
    if (raw === "") return;
    const parts = raw.split("|");
    if (parts.length !== 5 + ML100K_GENRES.length) {
      throw new ParseError(file, i + 1, `expected ${5 + ML100K_GENRES.length} fields separated by "|", found ${parts.length}`, raw);
    }
    const flags = parts.slice(5);
    if (!flags.every((f) => f === "0" || f === "1")) throw new ParseError(file, i + 1, "genre flags must be 0 or 1", raw);
    const title = parts[1].trim();
    const released = /(\d{4})$/.exec(parts[2]);
    const year = yearOf(title) ?? (released ? Number(released[1]) : null);
    movies.push({
      movieId: positiveInt(parts[0], file, i + 1, "movie id", raw),
      title,
      year,
      genres: ML100K_GENRES.filter((_, g) => flags[g] === "1"),
    });
  });
  return movies;
}

/** ML-1M users.dat: `UserID::Gender::Age::Occupation::Zip-code`. */
export function parseUsersDat(buf: Uint8Array, file: string): User[] {
  const users: User[] = [];
  textLines(buf).forEach((raw, i) => {
    if (raw === "") return;
    const p = raw.split("::");
    if (p.length !== 5) throw new ParseError(file, i + 1, `expected 5 fields UserID::Gender::Age::Occupation::Zip-code, found ${p.length}`, raw);
    users.push({
      userId: positiveInt(p[0], file, i + 1, "UserID", raw),
      gender: p[1],
      age: positiveInt(p[2], file, i + 1, "Age", raw),
      occupation: p[3],
      zip: p[4],
    });
  });
  return users;
}

/** ML-100K u.user: `user id|age|gender|occupation|zip code`. */
export function parseUUser(buf: Uint8Array, file: string): User[] {
  const users: User[] = [];
  textLines(buf).forEach((raw, i) => {
    if (raw === "") return;
    const p = raw.split("|");
    if (p.length !== 5) throw new ParseError(file, i + 1, `expected 5 fields id|age|gender|occupation|zip, found ${p.length}`, raw);
    users.push({
      userId: positiveInt(p[0], file, i + 1, "user id", raw),
      age: positiveInt(p[1], file, i + 1, "age", raw),
      gender: p[2],
      occupation: p[3],
      zip: p[4],
    });
  });
  return users;
}

/** Reads and parses a dataset folder as fetched by `ensureDataset`. */
export async function loadDataset(spec: DatasetSpec, dir: string): Promise<Dataset> {
  const path = (f: string): string => join(dir, f);
  const hint = `run \`npm run data -- --dataset ${spec.name}\` first`;
  const read = (f: string): { buf: Uint8Array; path: string } => {
    try {
      return { buf: readFileSync(path(f)), path: path(f) };
    } catch (err) {
      throw new Error(`cannot read ${path(f)} (${(err as Error).message}); ${hint}`);
    }
  };
  if (spec.format === "csv") {
    const readable = async <T>(f: string, parse: (p: string) => Promise<T>): Promise<T> => {
      try {
        return await parse(path(f));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new Error(`cannot read ${path(f)} (no such file); ${hint}`);
        throw err;
      }
    };
    const { ratings, merged } = mergeDuplicateRatings(await readable(spec.files.ratings, parseRatingsCsv));
    return { name: spec.name, ratings, duplicatesMerged: merged, movies: await readable(spec.files.movies, parseMoviesCsv), users: [] };
  }
  const r = read(spec.files.ratings);
  const m = read(spec.files.movies);
  const u = spec.files.users ? read(spec.files.users) : null;
  const dat = spec.format === "dat";
  const { ratings, merged } = mergeDuplicateRatings(parseRatings(r.buf, r.path, dat ? "::" : "\t"));
  return {
    name: spec.name,
    ratings,
    duplicatesMerged: merged,
    movies: dat ? parseMoviesDat(m.buf, m.path) : parseUItem(m.buf, m.path),
    users: u ? (dat ? parseUsersDat(u.buf, u.path) : parseUUser(u.buf, u.path)) : [],
  };
}
