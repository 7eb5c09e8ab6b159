// Options shared by the command-line tools.
import { type Command, InvalidArgumentError, Option } from "commander";
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
