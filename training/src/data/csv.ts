// MovieLens's CSV releases (ML-20M and later): ratings.csv is parsed as a stream of bytes
// straight into typed columns (32M lines must not become 32M strings), movies.csv with a CSV
// library (titles are quoted and contain commas and doubled quotes).
import { createReadStream } from "node:fs";
import { parse } from "csv-parse";
import { ParseError, type Movie, type RatingTable } from "./parse.ts";

export const RATINGS_CSV_HEADER = "userId,movieId,rating,timestamp";
export const MOVIES_CSV_HEADER = "movieId,title,genres";

const NEWLINE = 10;
const CR = 13;
const COMMA = 44;
const DOT = 46;

/** Typed columns that grow by doubling, for a row count not known in advance. */
export class RatingColumns {
  length = 0;
  private user = new Int32Array(1 << 16);
  private item = new Int32Array(1 << 16);
  private rating = new Float32Array(1 << 16);
  private timestamp = new Int32Array(1 << 16);

  push(user: number, item: number, rating: number, timestamp: number): void {
    if (this.length === this.user.length) this.grow();
    const n = this.length++;
    this.user[n] = user;
    this.item[n] = item;
    this.rating[n] = rating;
    this.timestamp[n] = timestamp;
  }

  private grow(): void {
    const size = this.user.length * 2;
    const bigger = <T extends Int32Array | Float32Array>(a: T, make: (n: number) => T): T => {
      const b = make(size);
      b.set(a);
      return b;
    };
    this.user = bigger(this.user, (n) => new Int32Array(n));
    this.item = bigger(this.item, (n) => new Int32Array(n));
    this.rating = bigger(this.rating, (n) => new Float32Array(n));
    this.timestamp = bigger(this.timestamp, (n) => new Int32Array(n));
  }

  /** The filled rows, copied into exactly-sized arrays (the doubling slack is released). */
  table(): RatingTable {
    const n = this.length;
    return {
      length: n,
      user: this.user.slice(0, n),
      item: this.item.slice(0, n),
      rating: this.rating.slice(0, n),
      timestamp: this.timestamp.slice(0, n),
    };
  }
}

function text(buf: Uint8Array, start: number, end: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start)
    .toString("utf8")
    .replace(/\r$/, "");
}

/**
 * Parses the lines of `buf` from `start` up to the last complete line, appending to `out`.
 * Returns where the unparsed rest (a partial last line) begins.
 */
function parseLines(buf: Uint8Array, start: number, final: boolean, out: RatingColumns, file: string, lineNo: { n: number }): number {
  let pos = start;
  for (;;) {
    let end = pos;
    while (end < buf.length && buf[end] !== NEWLINE) end++;
    if (end === buf.length && !final) return pos; // an incomplete line: wait for more bytes
    if (pos === buf.length) return pos;
    lineNo.n++;
    let stop = end;
    if (stop > pos && buf[stop - 1] === CR) stop--;
    if (stop > pos) parseLine(buf, pos, stop, out, file, lineNo.n);
    pos = end + 1;
    if (end === buf.length) return buf.length;
  }
}

const FIELDS = ["userId", "movieId", "rating", "timestamp"];

function parseLine(buf: Uint8Array, start: number, stop: number, out: RatingColumns, file: string, line: number): void {
  const fail = (problem: string): never => {
    throw new ParseError(file, line, problem, text(buf, start, stop));
  };
  let pos = start;
  const integer = (field: number): number => {
    let value = 0;
    let digits = 0;
    while (pos < stop && buf[pos] >= 48 && buf[pos] <= 57) {
      value = value * 10 + buf[pos] - 48;
      digits++;
      pos++;
    }
    if (digits === 0) fail(`field ${field + 1} (${FIELDS[field]}) is not a non-negative integer`);
    if (value > 2147483647) fail(`${FIELDS[field]} ${value} is out of range`);
    return value;
  };
  const comma = (field: number): void => {
    if (buf[pos] !== COMMA) fail(`expected "," after ${FIELDS[field]} (4 fields: ${RATINGS_CSV_HEADER})`);
    pos++;
  };
  const user = integer(0);
  comma(0);
  const item = integer(1);
  comma(1);
  let rating = integer(2);
  if (buf[pos] === DOT) {
    pos++;
    let scale = 0.1;
    let digits = 0;
    while (pos < stop && buf[pos] >= 48 && buf[pos] <= 57) {
      rating += (buf[pos] - 48) * scale;
      scale /= 10;
      digits++;
      pos++;
    }
    if (digits === 0) fail("the rating has a decimal point but no decimals");
  }
  comma(2);
  const timestamp = integer(3);
  if (pos !== stop) fail("unexpected text after the timestamp (4 fields expected)");
  if (user === 0 || item === 0) fail("ids start at 1");
  // half stars from 0.5 to 5.0
  const halves = Math.round(rating * 2);
  if (Math.abs(rating * 2 - halves) > 1e-6 || halves < 1 || halves > 10) fail(`rating ${rating} is not a half star from 0.5 to 5.0`);
  out.push(user, item, halves / 2, timestamp);
}

/** Streams ratings.csv (`userId,movieId,rating,timestamp` with a header line) into columns. */
export async function parseRatingsCsv(path: string, chunkBytes = 8 << 20): Promise<RatingTable> {
  const out = new RatingColumns();
  const lineNo = { n: 0 };
  let carry: Uint8Array = new Uint8Array(0);
  let headerSeen = false;
  for await (const chunk of createReadStream(path, { highWaterMark: chunkBytes }) as AsyncIterable<Buffer>) {
    let buf: Uint8Array = chunk;
    if (carry.length > 0) {
      buf = new Uint8Array(carry.length + chunk.length);
      buf.set(carry);
      buf.set(chunk, carry.length);
    }
    let start = 0;
    if (!headerSeen) {
      const end = buf.indexOf(NEWLINE);
      if (end < 0) {
        carry = buf.slice();
        continue;
      }
      headerSeen = true;
      lineNo.n = 1;
      const header = text(buf, 0, end).replace(/^\uFEFF/, "");
      if (header !== RATINGS_CSV_HEADER) throw new ParseError(path, 1, `expected the header "${RATINGS_CSV_HEADER}"`, header);
      start = end + 1;
    }
    const rest = parseLines(buf, start, false, out, path, lineNo);
    carry = buf.slice(rest);
  }
  if (!headerSeen) {
    if (carry.length === 0) throw new ParseError(path, 1, `the file is empty (expected the header "${RATINGS_CSV_HEADER}")`);
    const header = text(carry, 0, carry.length);
    if (header !== RATINGS_CSV_HEADER) throw new ParseError(path, 1, `expected the header "${RATINGS_CSV_HEADER}"`, header);
    return out.table();
  }
  parseLines(carry, 0, true, out, path, lineNo);
  return out.table();
}

/** "(no genres listed)" is how MovieLens's CSV releases say a movie has none. */
const NO_GENRES = "(no genres listed)";

/** movies.csv: `movieId,title,genres`, titles quoted when they hold commas. */
export async function parseMoviesCsv(path: string): Promise<Movie[]> {
  const movies: Movie[] = [];
  const parser = createReadStream(path).pipe(parse({ bom: true, relax_column_count: false, info: true }));
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const line = info.lines;
      if (line === 1) {
        if (record.join(",") !== MOVIES_CSV_HEADER) throw new ParseError(path, 1, `expected the header "${MOVIES_CSV_HEADER}"`, record.join(","));
        continue;
      }
      const [id, title, genres] = record;
      if (!/^[1-9]\d*$/.test(id)) throw new ParseError(path, line, `movieId "${id}" is not a positive integer`, record.join(","));
      if (title.trim() === "") throw new ParseError(path, line, "empty title", record.join(","));
      const year = /\((\d{4})\)\s*$/.exec(title.trim());
      movies.push({
        movieId: Number(id),
        title: title.trim(),
        year: year ? Number(year[1]) : null,
        genres: genres === NO_GENRES || genres === "" ? [] : genres.split("|"),
      });
    }
  } catch (err) {
    if (err instanceof ParseError) throw err;
    // csv-parse names the line of a malformed record (an unclosed quote, a wrong field count)
    const e = err as Error & { lines?: number };
    throw new ParseError(path, e.lines ?? 0, `not valid CSV (${e.message})`);
  }
  return movies;
}
