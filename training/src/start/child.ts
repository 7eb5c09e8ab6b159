// Runs another of the CLIs (train, publish) in a child process, its output prefixed line by line
// so that training logs, publishing and wrangler dev's request log stay apart in one terminal.
// A child gives its memory back when it exits (training: about 700 MB on ML-1M; wrangler's
// platform proxy for publishing: about 400 MB) instead of it being held while this process serves.
import { type ChildProcess, spawn } from "node:child_process";
import { setPriority } from "node:os";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface CliChild {
  child: ChildProcess;
  /** Settles when the child exits: its exit code, or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface CliOptions {
  /** Prefix of each output line. */
  prefix: string;
  /**
   * A lower CPU priority (a nice value, 0 to 19): background training then yields the cores to the
   * Worker answering requests. Set right after the spawn, before the child starts its kernel
   * threads, which inherit it.
   */
  niceness?: number;
  write?: (line: string) => void;
}

/** Starts `cliFile` (a path relative to training/src/cli/) with the same Node and loader (tsx) as this process. */
export function startCli(cliFile: string, args: string[], opts: CliOptions): CliChild {
  const write = opts.write ?? ((line: string) => console.log(line));
  const prefix = opts.prefix;
  const cli = fileURLToPath(new URL(`../cli/${cliFile}`, import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  if (opts.niceness && child.pid !== undefined) {
    try {
      setPriority(child.pid, opts.niceness);
    } catch {
      // not permitted here: the child runs at normal priority
    }
  }
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => write(`${prefix} ${line}`));
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once("error", reject);
    // "close", not "exit": every line of its output has been written by then
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  return { child, exited };
}
