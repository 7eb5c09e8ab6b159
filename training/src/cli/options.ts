// Options shared by the command-line tools.
import { type Command, InvalidArgumentError, Option } from "commander";
import { type CustomDataOptions, DEFAULT_ITEM_COLUMNS, DEFAULT_RATING_COLUMNS, parseColumnMap } from "../data/custom.ts";
import { DATASET_NAMES } from "../data/datasets.ts";
import { DEFAULT_SEED, PROTOCOL_NAMES } from "../protocol/protocols.ts";

export function integer(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`"${value}" is not a non-negative integer.`);
  return n;
}

/** What addDataOptions adds. */
export interface DataOptions {
  dataset: string;
  from?: string;
  dataDir: string;
}

/** What addProtocolOptions adds. */
export interface ProtocolOptions {
  protocol: string;
  seed: number;
  artifacts: string;
}

export function addDataOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--dataset <name>", "MovieLens dataset").choices(DATASET_NAMES).default("ml-1m"))
    .addOption(new Option("--from <dir>", "copy datasets from this folder (one sub-folder per dataset) instead of downloading").env("MOVIELENS_DIR"))
    .option("--data-dir <dir>", "where datasets are kept", "data");
}

/** What addOwnDataOptions adds. */
export interface OwnDataOptions {
  ratings?: string;
  items?: string;
  columns?: string;
  itemColumns?: string;
  delimiter: string;
}

/** A user's own ratings file instead of a MovieLens release (see data/custom.ts and the README). */
export function addOwnDataOptions(cmd: Command): Command {
  const names = (m: object): string =>
    Object.entries(m)
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
  return cmd
    .option("--ratings <file>", "your own ratings: a CSV file with a header (used instead of --dataset)")
    .option("--items <file>", "titles (and genres) for the items of --ratings")
    .option("--columns <map>", `column names in --ratings (default ${names(DEFAULT_RATING_COLUMNS)}; no rating column: implicit data)`)
    .option("--item-columns <map>", `column names in --items (default ${names(DEFAULT_ITEM_COLUMNS)})`)
    .option("--delimiter <char>", "field delimiter of --ratings and --items", ",");
}

/** The own-data options as the loader takes them (undefined without --ratings). */
export function ownData(opts: OwnDataOptions): CustomDataOptions | undefined {
  if (!opts.ratings) {
    if (opts.items || opts.columns || opts.itemColumns) throw new Error("--items, --columns and --item-columns go with --ratings <file>");
    return undefined;
  }
  return {
    ratings: opts.ratings,
    items: opts.items,
    columns: opts.columns ? parseColumnMap(opts.columns, DEFAULT_RATING_COLUMNS, "--columns") : undefined,
    itemColumns: opts.itemColumns ? parseColumnMap(opts.itemColumns, DEFAULT_ITEM_COLUMNS, "--item-columns") : undefined,
    delimiter: opts.delimiter === "\\t" ? "\t" : opts.delimiter,
  };
}

export function addProtocolOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--protocol <name>", "evaluation protocol (recbole is the headline)").choices(PROTOCOL_NAMES).default("recbole"))
    .option("--seed <n>", "seed of the split and of every random choice", integer, DEFAULT_SEED)
    .option("--artifacts <dir>", "output folder", "artifacts");
}

/** Runs an async CLI body, turning errors into one clear line and exit code 1. */
export async function runCli(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`error: ${message}\n`);
    if (process.env.DEBUG) console.error(err);
    process.exitCode = 1;
  }
}
