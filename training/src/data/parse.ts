// Parsers for the MovieLens file formats. Ratings are parsed straight from bytes into typed
// columns (1M lines in well under a second); every malformed line fails with the file, the
// line number and what was wrong.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { DatasetName, DatasetSpec } from "./datasets.ts";

export interface RatingTable {
  length: number;
  user: Int32Array;
  item: Int32Array;
  rating: Uint8Array;
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
  name: DatasetName;
  ratings: RatingTable;
  movies: Movie[];
  users: User[];
  /** Rows dropped because the same (user, movie) pair came again (the last one is kept). */
  duplicatesMerged?: number;
}

/**
 * One row per (user, movie): a pair that appears again replaces the earlier row (the later
 * line wins), so a repeated row never becomes a second training positive or exclusion.
 */
export function mergeDuplicateRatings(r: RatingTable): { ratings: RatingTable; merged: number } {
  const last = new Map<number, number>();
  let maxItem = 0;
  for (let k = 0; k < r.length; k++) maxItem = Math.max(maxItem, r.item[k]);
  const key = (k: number): number => r.user[k] * (maxItem + 1) + r.item[k];
  for (let k = 0; k < r.length; k++) last.set(key(k), k);
  if (last.size === r.length) return { ratings: r, merged: 0 };
  const keep: number[] = [];
  for (let k = 0; k < r.length; k++) if (last.get(key(k)) === k) keep.push(k);
  return {
    ratings: {
      length: keep.length,
      user: Int32Array.from(keep, (k) => r.user[k]),
      item: Int32Array.from(keep, (k) => r.item[k]),
      rating: Uint8Array.from(keep, (k) => r.rating[k]),
      timestamp: Int32Array.from(keep, (k) => r.timestamp[k]),
    },
    merged: r.length - keep.length,
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
  const rating = new Uint8Array(lines);
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

/** The 19 genre flags of ML-100K's u.item, in column order (as u.genre lists them). */
export const ML100K_GENRES = [
  "unknown",
  "Action",
  "Adventure",
  "Animation",
  "Children's",
  "Comedy",
  "Crime",
  "Documentary",
  "Drama",
  "Fantasy",
  "Film-Noir",
  "Horror",
  "Musical",
  "Mystery",
  "Romance",
  "Sci-Fi",
  "Thriller",
  "War",
  "Western",
];

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
export function loadDataset(spec: DatasetSpec, dir: string): Dataset {
  const read = (f: string): { buf: Uint8Array; path: string } => {
    const path = join(dir, f);
    try {
      return { buf: readFileSync(path), path };
    } catch (err) {
      throw new Error(`cannot read ${path} (${(err as Error).message}); run \`npm run data -- --dataset ${spec.name}\` first`);
    }
  };
  const r = read(spec.files.ratings);
  const m = read(spec.files.movies);
  const u = read(spec.files.users);
  const dat = spec.name === "ml-1m";
  const { ratings, merged } = mergeDuplicateRatings(parseRatings(r.buf, r.path, dat ? "::" : "\t"));
  return {
    name: spec.name,
    ratings,
    duplicatesMerged: merged,
    movies: dat ? parseMoviesDat(m.buf, m.path) : parseUItem(m.buf, m.path),
    users: dat ? parseUsersDat(u.buf, u.path) : parseUUser(u.buf, u.path),
  };
}
