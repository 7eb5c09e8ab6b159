// A user's own ratings file: CSV (or any delimiter) with a header, columns named by a mapping,
// ids that may be any strings, a rating column that may be absent (implicit data). Every bad
// row is reported with its file and line, and nothing is returned (so nothing is written)
// unless the whole file is good.
import { createReadStream } from "node:fs";
import { basename, extname } from "node:path";
import { parse } from "csv-parse";
import { RatingColumns } from "./csv.ts";
import { type Dataset, type Movie, ParseError } from "./parse.ts";

export interface RatingColumnMap {
  user: string;
  item: string;
  /** Absent from the header: the data is implicit (every row a positive). */
  rating: string;
  timestamp: string;
}

export interface ItemColumnMap {
  id: string;
  title: string;
  genres: string;
}

export const DEFAULT_RATING_COLUMNS: RatingColumnMap = { user: "userId", item: "movieId", rating: "rating", timestamp: "timestamp" };
export const DEFAULT_ITEM_COLUMNS: ItemColumnMap = { id: "movieId", title: "title", genres: "genres" };

export interface CustomDataOptions {
  ratings: string;
  items?: string | undefined;
  columns?: Partial<RatingColumnMap>;
  itemColumns?: Partial<ItemColumnMap>;
  delimiter?: string;
}

/** At most this many bad rows are listed before reading stops. */
const MAX_REPORTED = 20;

/** Parses `user=uid,item=iid` into a column map over the defaults. */
export function parseColumnMap<T extends object>(text: string, defaults: T, what: string): T {
  const out = { ...defaults } as Record<string, string>;
  for (const pair of text.split(",").filter(Boolean)) {
    const m = /^\s*(\w+)\s*=\s*(.+?)\s*$/.exec(pair);
    if (!m || !(m[1] in defaults)) {
      throw new Error(
        `${what}: "${pair}" is not one of ${Object.keys(defaults)
          .map((k) => `${k}=<column>`)
          .join(", ")}`,
      );
    }
    out[m[1]] = m[2];
  }
  return out as T;
}

/** Numbers ids: keeps them when every one is a positive integer, else numbers them 1..n. */
class IdSpace {
  private readonly byKey = new Map<string, number>();
  readonly keys: string[] = [];
  numeric = true;

  id(key: string): number {
    let id = this.byKey.get(key);
    if (id === undefined) {
      id = this.keys.length + 1;
      this.byKey.set(key, id);
      this.keys.push(key);
      if (this.numeric && !(/^[1-9]\d{0,9}$/.test(key) && Number(key) <= 2147483647)) this.numeric = false;
    }
    return id;
  }

  /** The final id of the key numbered `n` (the key itself when all keys are numeric). */
  final(n: number): number {
    return this.numeric ? Number(this.keys[n - 1]) : n;
  }
}

interface Row {
  record: Record<string, string>;
  info: { lines: number };
}

async function* rows(path: string, delimiter: string): AsyncGenerator<Row> {
  const parser = createReadStream(path).pipe(parse({ bom: true, columns: true, delimiter, info: true, skip_empty_lines: true, trim: true }));
  try {
    for await (const row of parser as AsyncIterable<Row>) yield row;
  } catch (err) {
    const e = err as Error & { lines?: number; code?: string };
    if (e.code === "ENOENT") throw new Error(`cannot read ${path}: no such file`);
    throw new ParseError(path, e.lines ?? 0, `not valid CSV (${e.message})`);
  }
}

function checkHeader(path: string, record: Record<string, string>, needed: string[], optional: string[]): void {
  const header = Object.keys(record);
  const missing = needed.filter((c) => !header.includes(c));
  if (missing.length > 0) {
    throw new ParseError(
      path,
      1,
      `the header has no column ${missing.map((c) => `"${c}"`).join(", ")} (it has ${header.map((c) => `"${c}"`).join(", ")}); name the columns with --columns ${[...needed, ...optional].length ? "user=...,item=...[,rating=...][,timestamp=...]" : ""}`,
    );
  }
}

/** Loads a user's own ratings (and optional items file) as a Dataset. */
export async function loadCustomDataset(opts: CustomDataOptions): Promise<Dataset> {
  const cols = { ...DEFAULT_RATING_COLUMNS, ...opts.columns };
  const delimiter = opts.delimiter ?? ",";
  const users = new IdSpace();
  const items = new IdSpace();
  const out = new RatingColumns();
  const problems: string[] = [];
  let implicit = false;
  let hasTime = false;
  let first = true;
  for await (const { record, info } of rows(opts.ratings, delimiter)) {
    if (first) {
      checkHeader(opts.ratings, record, [cols.user, cols.item], []);
      implicit = !(cols.rating in record);
      hasTime = cols.timestamp in record;
      if (implicit && opts.columns?.rating) throw new ParseError(opts.ratings, 1, `the header has no rating column "${cols.rating}"`);
      first = false;
    }
    const bad = (problem: string): void => {
      problems.push(`${opts.ratings}:${info.lines}: ${problem}`);
    };
    const user = record[cols.user];
    const item = record[cols.item];
    if (!user) bad(`empty ${cols.user}`);
    if (!item) bad(`empty ${cols.item}`);
    let rating = 0;
    if (!implicit) {
      rating = Number(record[cols.rating]);
      if (record[cols.rating] === "" || !Number.isFinite(rating)) bad(`${cols.rating} "${record[cols.rating]}" is not a number`);
    }
    let timestamp = 0;
    if (hasTime && record[cols.timestamp] !== "") {
      timestamp = Number(record[cols.timestamp]);
      if (!Number.isSafeInteger(timestamp) || timestamp < 0 || timestamp > 2147483647)
        bad(`${cols.timestamp} "${record[cols.timestamp]}" is not a Unix time in seconds`);
    }
    if (problems.length >= MAX_REPORTED) break;
    if (user && item) out.push(users.id(user), items.id(item), rating, timestamp);
  }
  if (first) throw new ParseError(opts.ratings, 1, "the file has no header or no rows");
  if (problems.length > 0) {
    throw new Error(
      `${problems.length}${problems.length >= MAX_REPORTED ? "+" : ""} bad row(s) in ${opts.ratings}; nothing was written:\n  ${problems.join("\n  ")}`,
    );
  }
  const table = out.table();
  // final ids: the file's own when they are all positive integers
  if (users.numeric) for (let k = 0; k < table.length; k++) table.user[k] = users.final(table.user[k]);
  if (items.numeric) for (let k = 0; k < table.length; k++) table.item[k] = items.final(table.item[k]);
  const movies = opts.items ? await loadItems(opts.items, { ...DEFAULT_ITEM_COLUMNS, ...opts.itemColumns }, delimiter, items) : [];
  const named = new Set(movies.map((m) => m.movieId));
  for (let n = 1; n <= items.keys.length; n++) {
    if (!named.has(items.final(n))) movies.push({ movieId: items.final(n), title: items.keys[n - 1], year: null, genres: [] });
  }
  return {
    name: `custom-${basename(opts.ratings, extname(opts.ratings)).replace(/[^\w-]/g, "_")}`,
    ratings: table,
    movies,
    users: [],
    implicit,
    keys: users.numeric && items.numeric ? undefined : { users: users.numeric ? null : users.keys, items: items.numeric ? null : items.keys },
  };
}

/** The items file: titles (and genres) for the items the ratings name; others are ignored. */
async function loadItems(path: string, cols: ItemColumnMap, delimiter: string, items: IdSpace): Promise<Movie[]> {
  const movies: Movie[] = [];
  let first = true;
  const known = new Map(items.keys.map((k, i) => [k, i + 1]));
  for await (const { record, info } of rows(path, delimiter)) {
    if (first) {
      checkHeader(path, record, [cols.id, cols.title], []);
      first = false;
    }
    const n = known.get(record[cols.id]);
    if (n === undefined) continue;
    const title = record[cols.title];
    if (!title) throw new ParseError(path, info.lines, `empty ${cols.title}`);
    const year = /\((\d{4})\)\s*$/.exec(title);
    const genres = record[cols.genres];
    movies.push({ movieId: items.final(n), title, year: year ? Number(year[1]) : null, genres: genres ? genres.split("|").filter(Boolean) : [] });
  }
  return movies;
}
