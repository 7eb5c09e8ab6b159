// Runs another of the CLIs (train, publish) in a child process, its output prefixed line by line
// so that training logs, publishing and wrangler dev's request log stay apart in one terminal.
// A child gives its memory back when it exits (training: about 700 MB on ML-1M; wrangler's
// platform proxy for publishing: about 400 MB) instead of it being held while this process serves.
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export interface CliChild {
  child: ChildProcess;
  /** Settles when the child exits: its exit code, or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `cliFile` (a path relative to training/src/cli/) with the same Node and loader (tsx) as this process. */
export function startCli(cliFile: string, args: string[], prefix: string, write: (line: string) => void = (l) => console.log(l)): CliChild {
  const cli = fileURLToPath(new URL(`../cli/${cliFile}`, import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, cli, ...args], { stdio: ["ignore", "pipe", "pipe"] });
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
